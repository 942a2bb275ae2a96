"""Load-time checking: every construct of an expression is one we compile, else PromQLError."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from console.rules.promql import selectors
from console.rules.promql.errors import PromQLError

if TYPE_CHECKING:
    from console.rules.promql.nodes import PromQL


def check(expr: PromQL) -> None:
    """Compile the expression against an empty store: an unsupported construct raises here.

    Compiling is all it takes (every refusal is raised while the SQL is built); the SQL itself
    is not planned here, which would cost a rule file ~3 ms a rule at every load, and is
    checked against a real Prometheus by tests/integration/promql/."""
    from console.rules.promql.compiler import Compiler
    from console.rules.promql.nodes import Grid, Options

    cur = _schema().cursor()
    compiler = Compiler(cur, Grid(0, 0, 1), Options(), series=_NO_SERIES)
    try:
        rel = compiler.compile(expr.ast, Grid(0, 0, 1))
        if rel.kind == "string":
            raise PromQLError("a string cannot be the result; a rule or query needs a vector or a scalar")
        if rel.kind == "matrix":
            raise PromQLError(
                "a range vector cannot be the result; wrap it in a function such as rate()", str(expr.ast)
            )
    finally:
        compiler.close()
        cur.close()


class _NoSeries(selectors.Series):
    """The empty store's series, known without asking it: a selector matches nothing (a query
    of the empty `series` table per selector was half of a 500-rule file's load)."""

    def named(self, name: str | None, cur: Any) -> list[tuple[int, dict[str, str], list[tuple[str, str]]]]:
        return []


_NO_SERIES = _NoSeries()
_con: Any = None


def _schema() -> Any:
    global _con
    import duckdb

    from console.store.schema import MIGRATIONS

    if _con is None:
        con = duckdb.connect()
        for migration in MIGRATIONS:
            con.execute(migration)
        _con = con
    return _con
