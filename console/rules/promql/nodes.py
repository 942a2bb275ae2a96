"""The compiler's values: evaluation grids, compiled relations, options, a parsed expression,
and the interface the node compilers (functions, aggregations, binary) build on."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol

from console.config.promql import DEFAULT_WINDOWS, Windows


def ms_of(delta: Any) -> int:
    return round(delta.total_seconds() * 1000) if delta is not None else 0


@dataclass(frozen=True)
class Grid:
    """Evaluation points: key `t` and time `et` (epoch ms).  A time grid has one point per step,
    start, start + step, …, up to end, keyed by its time; a grid of parts evaluates the
    expressions of one shape (`parts`, their indexes in the batch) at one instant, keyed 0, 1, …"""

    start: int
    end: int
    step: int
    parts: tuple[int, ...] = ()

    def sql(self) -> str:
        if self.parts:
            return f"SELECT range AS t, {self.start}::BIGINT AS et FROM range({len(self.parts)})"
        return f"SELECT range AS t, range AS et FROM range({self.start}, {self.end + 1}, {max(self.step, 1)})"


@dataclass(frozen=True)
class Rel:
    kind: str  # vector, scalar, matrix, string
    name: str = ""
    text: str = ""
    constant: float | None = None  # a number literal, inlined where a parameter must be constant
    series: str = ""  # a range vector's series: (sid, labels), joined on `series_on` with r (t, sid)
    series_on: str = "m.sid = r.sid"
    unique: bool = False  # a vector whose samples at each step differ in more than __name__
    inline: str = ""  # a scalar as an SQL expression of its step `{t}` (a number, or each part's)


@dataclass(frozen=True)
class Options:
    lookback_ms: int = 300_000
    windows: Windows = DEFAULT_WINDOWS  # closed (2.x: a sample exactly `w` old is in) or left-open
    default_step_ms: int = 60_000  # a subquery without a step uses the evaluation interval


@dataclass(frozen=True)
class PromQL:
    """A parsed, checked PromQL expression (compiled afresh for each evaluation grid)."""

    text: str
    ast: Any = field(compare=False, hash=False, repr=False)

    def __str__(self) -> str:
        return self.text


class Builder(Protocol):
    """What a node compiler needs from the compiler."""

    def cte(self, sql: str) -> str: ...

    def grid(self, grid: Grid) -> str: ...

    def check(self, sql: str) -> None: ...

    def fetch(self, rel_name: str, order: str) -> Any: ...

    def register(self, prefix: str, table: Any) -> str: ...

    def compile(self, node: Any, grid: Grid) -> Rel: ...

    def operand(self, node: Any, grid: Grid) -> Rel: ...

    def functions(self, node: Any, grid: Grid) -> list[str] | None: ...
