"""A store as a replay sees it: its series, plus what recording rules record during the replay,
kept in temporary tables of a connection of the replay's own; the store is never written.

The connection's temporary views `series` and `samples` stand in for the store's tables (DuckDB
resolves a temporary object first), so every evaluator's SQL reads through them unchanged. From
the replay's start on, the samples the engine recorded for the replayed metrics are hidden: the
replay's own take their place; before it, they remain (a window reaching back reads them).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from typing import Any

from console.rules.model import sql_str, sql_ts
from console.rules.recording import Row
from console.store import Store


class _Shared:
    """The replay's one connection, handed out as a cursor that its users may close."""

    def __init__(self, con: Any) -> None:
        self._con = con

    def close(self) -> None:
        """The connection stays open: the replay's temporary tables live on it."""

    def __getattr__(self, name: str) -> Any:
        return getattr(self._con, name)


class ReplayStore(Store):
    """`store` read through temporary views that add the series recorded by a replay."""

    def __init__(self, store: Store, metrics: list[str], start: datetime) -> None:
        super().__init__(store.con.cursor(), store.path, read_only=True, snapshot_of=store.snapshot_of)
        con = self.con
        (name,) = con.execute("SELECT current_database()").fetchall()[0]
        db = '"' + str(name).replace('"', '""') + '"'
        names = ", ".join(sql_str(m) for m in metrics) or "NULL"
        con.execute("CREATE TEMP TABLE _replay_series (id BIGINT, name VARCHAR, labels VARCHAR, key VARCHAR)")
        con.execute("CREATE TEMP TABLE _replay_samples (series_id BIGINT, ts TIMESTAMP, value DOUBLE)")
        con.execute(
            f"CREATE TEMP TABLE _replay_hidden AS SELECT id FROM {db}.main.series WHERE name IN ({names})"
        )
        con.execute(
            f"CREATE TEMP VIEW series AS SELECT id, name, labels, key FROM {db}.main.series "
            "UNION ALL SELECT id, name, labels, key FROM _replay_series"
        )
        con.execute(
            f"CREATE TEMP VIEW samples AS SELECT series_id, ts, value FROM {db}.main.samples "
            f"WHERE ts < {sql_ts(start)} OR series_id NOT IN (SELECT id FROM _replay_hidden) "
            "UNION ALL SELECT series_id, ts, value FROM _replay_samples"
        )

    def cursor(self) -> Any:
        return _Shared(self.con)

    @contextmanager
    def transaction(self) -> Iterator[Any]:
        raise RuntimeError("a replay never writes its store")
        yield  # pragma: no cover - a generator for contextmanager

    def write(self, rows: list[Row]) -> None:
        """Keep recorded samples (name, canonical labels, ts, value) for the rest of the replay."""
        import pyarrow as pa

        if not rows:
            return
        names, labels, times, values = (list(column) for column in zip(*rows))
        con = self.con
        con.register("_replay_in", pa.table({"name": names, "labels": labels, "ts": times, "value": values}))
        try:
            con.execute(
                """
                INSERT INTO _replay_series
                SELECT -(SELECT count(*) FROM _replay_series) - row_number() OVER (ORDER BY key),
                       name, labels, key
                FROM (SELECT DISTINCT name, labels, name || labels AS key FROM _replay_in) AS fresh
                WHERE key NOT IN (SELECT key FROM series)
                """
            )
            con.execute(
                "INSERT INTO _replay_samples SELECT s.id, i.ts, i.value FROM _replay_in i "
                "JOIN series s ON s.key = i.name || i.labels"
            )
        finally:
            con.unregister("_replay_in")
