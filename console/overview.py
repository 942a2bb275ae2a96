"""What the Overview screen shows, computed from the store (no Textual here)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from console.store import Store


@dataclass
class Overview:
    """A snapshot of the store for the first screen."""

    series: int = 0
    samples: int = 0
    logs: int = 0
    first_ts: datetime | None = None
    last_ts: datetime | None = None
    metrics: list[tuple[Any, ...]] = field(default_factory=list)
    recent_logs: list[tuple[Any, ...]] = field(default_factory=list)
    collectors: list[tuple[Any, ...]] = field(default_factory=list)
    changes: list[tuple[Any, ...]] = field(default_factory=list)


METRIC_COLUMNS = ("metric", "series", "samples", "last sample", "last value")
LOG_COLUMNS = ("time", "level", "service", "message")
COLLECTOR_COLUMNS = ("collector", "healthy", "last success", "rows", "last error")
CHANGE_COLUMNS = ("time", "kind", "model", "version", "actor")


def load_overview(store: Store, limit: int = 200) -> Overview:
    q = store.query
    view = Overview()
    view.series = q("SELECT count(*) FROM series")[1][0][0]
    view.samples, view.first_ts, view.last_ts = q(
        "SELECT count(*), min(ts), max(ts) FROM samples")[1][0]
    view.logs = q("SELECT count(*) FROM logs")[1][0][0]
    view.metrics = q(f"""
        WITH last AS (
            SELECT series_id, max(ts) AS ts, arg_max(value, ts) AS value, count(*) AS n
            FROM samples GROUP BY series_id)
        SELECT s.name, count(*) AS series, sum(l.n) AS samples, max(l.ts) AS last_ts,
               arg_max(l.value, l.ts) AS last_value
        FROM series s JOIN last l ON l.series_id = s.id
        GROUP BY s.name ORDER BY s.name LIMIT {int(limit)}
    """)[1]
    view.recent_logs = q(f"""
        SELECT ts, level, service, message FROM logs ORDER BY ts DESC LIMIT {int(limit)}
    """)[1]
    view.collectors = q("""
        SELECT name, healthy, last_success, rows_ingested, last_error FROM collector_state
        ORDER BY name
    """)[1]
    view.changes = q(f"""
        SELECT ts, kind, model, version, actor FROM changes ORDER BY ts DESC LIMIT {int(limit)}
    """)[1]
    return view
