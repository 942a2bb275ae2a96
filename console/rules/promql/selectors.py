"""The series a PromQL selector picks, by its label matchers, from the store's `series` table
(a few thousand rows at most; samples are never read here), and the Arrow table of them that a
compiled query joins."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

import promql_parser as pp

from console.rules.matchers import Matcher
from console.rules.promql import sql as q
from console.rules.promql.errors import PromQLError

if TYPE_CHECKING:
    import duckdb

_OPS = {
    int(pp.MatchOp.Equal): "=",
    int(pp.MatchOp.NotEqual): "!=",
    int(pp.MatchOp.Re): "=~",
    int(pp.MatchOp.NotRe): "!~",
}


class Series:
    """The store's series, read once per metric name, and what each selector text matched; kept
    from one rule cycle to the next while the `series` table is the same (`refreshed`)."""

    def __init__(self) -> None:
        self._series: dict[str | None, list[tuple[int, dict[str, str], list[tuple[str, str]]]]] = {}
        self._found: dict[str, list[tuple[int, list[tuple[str, str]]]]] = {}
        self._version: Any = None

    def refreshed(self, cur: duckdb.DuckDBPyConnection) -> Series:
        """This cache, emptied if a series was added or removed since it was filled (series are
        only ever inserted and deleted, never changed)."""
        version = cur.execute("SELECT count(*), max(id), bit_xor(hash(id, key)) FROM series").fetchall()[0]
        if version != self._version:
            self._series, self._found, self._version = {}, {}, version
        return self

    def matched(self, node: Any, cur: duckdb.DuckDBPyConnection) -> list[tuple[int, list[tuple[str, str]]]]:
        """(sid, sorted labels) of the series a selector matches, read once per metric name; each
        matcher is tried once per distinct value of its label."""
        if node.matchers.or_matchers:
            raise PromQLError("`or` inside a selector's braces is not supported", str(node))
        text = str(node)
        if text in self._found:
            return self._found[text]
        matchers = [Matcher(m.name, m.value, _OPS[int(m.op)]) for m in node.matchers.matchers]
        name = node.name or next((m.value for m in matchers if m.name == q.NAME and m.op == "="), None)
        if node.name:
            matchers.append(Matcher(q.NAME, node.name, "="))
        verdicts: list[tuple[str, dict[str, bool], Matcher]] = [(m.name, {}, m) for m in matchers]
        found = []
        for sid, present, entries in self.named(name, cur):
            for label, seen, m in verdicts:
                value = present.get(label, "")
                if value not in seen:
                    seen[value] = m.matches({label: value} if value else {})
                if not seen[value]:
                    break
            else:
                found.append((sid, entries))
        self._found[text] = found
        return found

    def named(
        self, name: str | None, cur: duckdb.DuckDBPyConnection
    ) -> list[tuple[int, dict[str, str], list[tuple[str, str]]]]:
        """(sid, labels without empty values, the same sorted) of the series of a metric (or all)."""
        if name not in self._series:
            if name is None:
                rows = cur.execute("SELECT id, name, labels FROM series").fetchall()
            else:
                rows = cur.execute("SELECT id, name, labels FROM series WHERE name = ?", [name]).fetchall()
            series = []
            for sid, n, labels in rows:
                present = {k: v for k, v in {q.NAME: n, **json.loads(labels)}.items() if v != ""}
                series.append((sid, present, sorted(present.items())))
            self._series[name] = series
        return self._series[name]


def table(
    matched: list[tuple[int, list[tuple[str, str]]]],
    parts: list[int] | None = None,
    windows: list[int] | None = None,
) -> Any:
    """The selector's series (sid, labels); on a grid of parts, the part `t` each is for and
    (a range selector) that part's window `w`."""
    from console.core import arrays

    columns = {
        "sid": arrays.int64s([m[0] for m in matched]),
        "labels": arrays.label_lists([entries for _, entries in matched]),
    }
    if parts is not None:
        columns["t"] = arrays.int64s(parts)
        if windows is not None:
            columns["w"] = arrays.int64s([windows[t] for t in parts])
    return arrays.table(columns)
