"""What the console's screens show, computed from the store (no Textual here).

Each function takes the store (and `now` where time matters) and returns plain rows,
so the screens stay thin and the numbers are tested without a terminal.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any, Protocol

from console.config.durations import format_duration
from console.screens.logs import LOG_COLUMNS as LOG_COLUMNS  # the alert detail's log table
from console.screens.logs import LogFilter, logs_window
from console.screens.slo_board import SLORow, slo_board
from console.store.notes import notes_text
from console.store.refused import refused_text

if TYPE_CHECKING:
    from console.alerts.listing import ListedAlert
    from console.rules.matchers import InhibitRule
    from console.store import Store

HOUR, SIX_HOURS = timedelta(hours=1), timedelta(hours=6)
_READ_ONLY_STARTS = (
    "select",
    "with",
    "describe",
    "show",
    "explain",
    "from",
    "summarize",
    "values",
    "table",
    "(",
)


def is_read_only_sql(sql: str) -> bool:
    """Whether a statement reads only (the store is opened read-only too, where it can be)."""
    words = sql.strip().split(None, 1)
    return (
        bool(words) and words[0].lower().startswith(_READ_ONLY_STARTS) and ";" not in sql.strip().rstrip(";")
    )


def run_read_only_sql(store: Store, sql: str) -> tuple[list[str], list[tuple]]:
    """Run a user's query; on a writable store inside a transaction that is rolled back."""
    if not is_read_only_sql(sql):
        raise ValueError("read-only SQL only (SELECT, WITH, DESCRIBE, SHOW, EXPLAIN)")
    _refuse_shared_tables(store, sql)
    if store.read_only:
        return store.query(sql)
    cur = store.cursor()
    try:
        cur.execute("BEGIN TRANSACTION")
        try:
            cur.execute(sql)
            columns = [d[0] for d in cur.description or []]
            return columns, cur.fetchall()
        finally:
            cur.execute("ROLLBACK")
    finally:
        cur.close()


def _refuse_shared_tables(store: Store, sql: str) -> None:
    """With a team backend the store's copies of the shared tables are empty: a query naming one
    would answer "nothing" where the team database holds the record, so it is refused, said."""
    import re

    from console.store.shared import SHARED_TABLES

    if store.shared.kind == "local":
        return
    named = [t for t in SHARED_TABLES if re.search(rf"\b{t}\b", sql, re.IGNORECASE)]
    if named:
        raise ValueError(
            f"{', '.join(named)} live in the team database ({store.shared.where}), not in this "
            "store; read them with `oncall incident`, `oncall alerts`, `oncall audit` or the console's views"
        )


class SessionView(Protocol):
    """What the screens read of a console session (console.runtime.session.Session, a layer up)."""

    @property
    def store(self) -> Store: ...

    @property
    def clock(self) -> Callable[[], datetime]: ...

    @property
    def config(self) -> Any: ...


# -- SLO board -------------------------------------------------------------------------


def budget_bar(remaining: float | None, width: int = 10) -> str:
    """`███████░░░ 72%`; an overspent budget shows as an empty bar with a negative share."""
    if remaining is None:
        return "no data"
    filled = max(0, min(width, round(remaining * width)))
    return "█" * filled + "░" * (width - filled) + f" {remaining * 100:.0f}%"


def fmt_burn(burn: float | None) -> str:
    return "no data" if burn is None else f"{burn:.2f}x"


def fmt_budget(row: SLORow, width: int = 6) -> str:
    """The bar and share left; over partial data `-156% 1d/30d`: the share and how much it covers."""
    if row.coverage is None or row.budget_remaining is None:
        return budget_bar(row.budget_remaining, width)

    def days(delta: timedelta) -> str:
        if delta >= timedelta(hours=23, minutes=30):
            return f"{delta / timedelta(days=1):.0f}d"
        return f"{delta / timedelta(hours=1):.0f}h"

    return f"{row.budget_remaining * 100:.0f}% {days(row.coverage[0])}/{days(row.coverage[1])}"


def fmt_burns(row: SLORow) -> str:
    """`5m 15.2× 1h 14.9× /14.4 · 6h 3.1× /6`: each pair's burns beside its page factor."""

    def one(burn: float | None) -> str:
        return "—" if burn is None else f"{burn:.1f}×" if burn < 100 else f"{burn:.0f}×"

    fast = f"5m {one(row.burn_5m)} 1h {one(row.burn_1h)}"
    if row.page_1h is not None:
        fast += f" /{row.page_1h:g}"
    slow = f"6h {one(row.burn_6h)}"
    if row.page_6h is not None:
        slow += f" /{row.page_6h:g}"
    return f"{fast} · {slow}"


def fmt_percent(value: float | None, digits: int = 3) -> str:
    return "no data" if value is None else f"{value * 100:.{digits}f}%"


def fmt_age(delta: timedelta | None) -> str:
    if delta is None:
        return "—"
    seconds = int(delta.total_seconds())
    if seconds < 60:
        return f"{seconds}s"
    return format_duration(
        timedelta(seconds=seconds - seconds % 60 if seconds < 86400 else seconds - seconds % 3600)
    )


# -- alerts ------------------------------------------------------------------------------


@dataclass
class AlertRow:
    fingerprint: str
    name: str
    state: str
    since: datetime | None
    labels: dict[str, str]
    annotations: dict[str, str]
    value: float | None
    source: str
    silenced: bool
    inhibited: bool
    active_since: datetime | None = None  # when it started (kept after it resolves)

    def label_text(self) -> str:
        return ", ".join(f"{k}={v}" for k, v in sorted(self.labels.items()) if k != "alertname")


def alert_rows(
    store: Store,
    *,
    states: tuple[str, ...] | None = None,
    limit: int = 2000,
    now: datetime | None = None,
    inhibit_rules: Iterable[InhibitRule] | None = None,
) -> list[AlertRow]:
    """The alerts `oncall alerts` lists (console.alerts.listing), silenced as of `now` (default:
    the wall clock, as the CLI's), inhibited by the workspace's `inhibit_rules` besides the
    default ones (None: as the engine decided at its last cycle)."""
    from console.alerts.listing import SHOWN_STATES, list_alerts

    now = now or datetime.now(UTC).replace(tzinfo=None)
    listed = list_alerts(store, now, inhibit_rules, states=states or SHOWN_STATES)
    return [_alert_row(entry) for entry in listed[: max(int(limit), 0)]]


def _alert_row(entry: ListedAlert) -> AlertRow:
    a = entry.alert
    return AlertRow(
        a.fingerprint,
        a.name,
        entry.state,
        entry.since,
        dict(a.labels),
        dict(a.annotations),
        a.value,
        a.source,
        bool(a.silenced_by),
        bool(a.inhibited_by),
        a.active_since,
    )


def session_alert_rows(session: SessionView) -> list[AlertRow]:
    """The alerts at the session's clock, with the inhibit rules in force."""
    return alert_rows(session.store, now=session.clock(), inhibit_rules=session.config.inhibit_rules)


def most_urgent(incidents: list[tuple[Any, ...]], alerts: list[AlertRow]) -> tuple[str, str] | None:
    """What to open first: the newest open incident (`open_incidents` lists the newest first),
    else the most severe firing alert (`alert_rows` lists them most urgent first), else None."""
    if incidents:
        return "incident", str(incidents[0][0])
    firing = next((a for a in alerts if a.state == "firing"), None)
    return ("alert", firing.fingerprint) if firing is not None else None


@dataclass
class AlertDetail:
    alert: AlertRow
    history: list[tuple[datetime, str, str, float | None]]
    values: list[tuple[datetime, float | None]]
    logs: list[tuple[Any, ...]]
    changes: list[tuple[Any, ...]]


def alert_detail(
    store: Store,
    fingerprint: str,
    *,
    logs_around: timedelta = timedelta(minutes=15),
    changes_before: timedelta = timedelta(days=2),
) -> AlertDetail | None:
    """An alert with its state history, values, the logs around its start, the changes before it."""
    rows = [a for a in alert_rows(store) if a.fingerprint == fingerprint]
    if not rows:
        return None
    alert = rows[0]
    history = store.shared.query(
        """
        SELECT ts, coalesce(from_state, ''), to_state, value FROM alert_history
        WHERE fingerprint = ? ORDER BY ts""",
        [fingerprint],
    )[1]
    values = [(r[0], r[3]) for r in history if r[3] is not None]
    start = alert.active_since or alert.since or (history[0][0] if history else None)
    logs: list[tuple[Any, ...]] = []
    changes: list[tuple[Any, ...]] = []
    if start is not None:
        service = alert.labels.get("service")
        logs = [
            row[:4]  # ts, level, service, message
            for row in logs_window(
                store,
                LogFilter(service=service, since=start - logs_around, until=start + logs_around),
                limit=200,
                newest_first=False,
            )
        ]
        changes = store.query(
            """
            SELECT ts, kind, model, version, actor, detail FROM changes
            WHERE ts <= ? AND ts >= ? ORDER BY ts DESC LIMIT 50""",
            [start, start - changes_before],
        )[1]
    return AlertDetail(alert, history, values, logs, changes)


# -- metrics -----------------------------------------------------------------------------


@dataclass
class MetricSeries:
    labels: dict[str, str]
    points: list[tuple[datetime, float]]


def metric_series(
    store: Store,
    selector_text: str,
    start: datetime,
    end: datetime,
    *,
    max_series: int = 20,
    max_points: int = 240,
) -> list[MetricSeries]:
    """The selector's series between start and end, averaged into at most `max_points` buckets."""
    from console.store.selectors import parse_selector, where_sql

    selector = parse_selector(selector_text)
    span = max((end - start).total_seconds(), 1)
    bucket_s = max(1, int(span // max_points))
    rows = store.query(
        f"""
        WITH sel AS (SELECT id, name, labels FROM series WHERE {where_sql(selector)}
                     ORDER BY name, labels LIMIT {int(max_series)})
        SELECT sel.name, sel.labels,
               time_bucket(INTERVAL '{bucket_s} seconds', x.ts, ?::TIMESTAMP) AS t, last(x.value ORDER BY x.ts)
        FROM samples x JOIN sel ON sel.id = x.series_id
        WHERE x.ts BETWEEN ? AND ?
        GROUP BY ALL ORDER BY 1, 2, 3
    """,
        [start, start, end],
    )[1]
    out: dict[tuple[str, str], MetricSeries] = {}
    for name, labels, t, value in rows:
        key = (name, labels)
        if key not in out:
            out[key] = MetricSeries({"__name__": name, **json.loads(labels)}, [])
        out[key].points.append((t, value))
    return list(out.values())


# -- collectors, incidents, changes --------------------------------------------------------

COLLECTOR_COLUMNS = ("collector", "health", "last success", "rows", "last error or note")


def overview(
    store: Store,
    slos: list[Any],
    now: datetime,
    *,
    with_slos: bool = True,
    inhibit_rules: Iterable[InhibitRule] | None = None,
) -> dict[str, Any]:
    """What the Overview shows; without the SLO board (its costly part) when `with_slos` is off."""
    active = ("firing", "suppressed", "pending")  # a muted alert still fires: shown, as suppressed
    return {
        "slos": slo_board(store, slos, now) if with_slos else None,
        "alerts": alert_rows(store, states=active, limit=100, now=now, inhibit_rules=inhibit_rules),
        "incidents": open_incidents(store),
        "collectors": collector_rows(store),
    }


def session_overview(session: SessionView) -> dict[str, Any]:
    """The Overview of a session's store at its clock's now (what the console shows first)."""
    config = session.config
    return overview(session.store, config.slos, session.clock(), inhibit_rules=config.inhibit_rules)


def collector_rows(store: Store) -> list[tuple[Any, ...]]:
    rows = store.query("""
        SELECT name, healthy, last_success, rows_ingested, last_error, notes, refused
        FROM collector_state WHERE name NOT LIKE 'import:%' ORDER BY name""")[1]
    from console.core.secrets import redact  # an error stored before errors were redacted

    return [
        (
            n,
            "up" if ok else "DOWN",
            ts,
            count,
            "; ".join(filter(None, [notes_text(notes) if ok else redact(err or ""), refused_text(refused)])),
        )
        for n, ok, ts, count, err, notes, refused in rows
    ]


def open_incidents(store: Store) -> list[tuple[Any, ...]]:
    return store.shared.query("""
        SELECT id, severity, status, title, created_at FROM incidents
        WHERE status NOT IN ('resolved', 'closed') ORDER BY created_at DESC""")[1]


def recent_changes(store: Store, limit: int = 50) -> list[tuple[Any, ...]]:
    return store.query(f"""
        SELECT ts, kind, model, version, actor FROM changes ORDER BY ts DESC LIMIT {int(limit)}
    """)[1]
