"""The engine's alerts, their history and each rule's health, kept in the store."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from console.alerts.lifecycle import Alert, Transition
from console.store.ingest import canonical_labels

if TYPE_CHECKING:
    import pyarrow as pa

    from console.store import Store

EXTERNAL_SOURCES = ("alertmanager",)  # rows other writers own; the engine never touches them

_ALERT_COLUMNS = (
    "fingerprint",
    "source",
    "rule",
    "name",
    "labels",
    "annotations",
    "state",
    "active_since",
    "fired_at",
    "resolved_at",
    "last_eval",
    "keep_until",
    "value",
    "silenced_by",
    "inhibited_by",
    "stale",
)
_TIMESTAMP_COLUMNS = frozenset({"active_since", "fired_at", "resolved_at", "last_eval", "keep_until"})


def _alert_from_row(row: tuple) -> Alert:
    d = dict(zip(_ALERT_COLUMNS, row))
    return Alert(
        d["fingerprint"],
        d["rule"] or "",
        d["name"],
        json.loads(d["labels"] or "{}"),
        d["state"],
        source=d["source"],
        annotations=json.loads(d["annotations"] or "{}"),
        active_since=d["active_since"],
        fired_at=d["fired_at"],
        resolved_at=d["resolved_at"],
        last_eval=d["last_eval"],
        keep_until=d["keep_until"],
        value=d["value"],
        silenced_by=json.loads(d["silenced_by"] or "[]"),
        inhibited_by=json.loads(d["inhibited_by"] or "[]"),
        stale=d["stale"],
    )


def load_alerts(store: Store, *, external: bool | None = False) -> list[Alert]:
    """Alerts in the store: the engine's own (default), only external ones, or all (None)."""
    sql = f"SELECT {', '.join(_ALERT_COLUMNS)} FROM alerts"
    marks = ", ".join("?" for _ in EXTERNAL_SOURCES)
    if external is False:
        sql += f" WHERE source NOT IN ({marks})"
    elif external is True:
        sql += f" WHERE source IN ({marks})"
    _, rows = store.shared.query(
        sql + " ORDER BY fingerprint", list(EXTERNAL_SOURCES) if external is not None else []
    )
    return [_alert_from_row(r) for r in rows]


def _alert_values(a: Alert) -> tuple[Any, ...]:
    """An alert as a row, in _ALERT_COLUMNS' order."""
    return (
        a.fingerprint,
        a.source,
        a.rule,
        a.name,
        canonical_labels(a.labels),
        json.dumps(a.annotations, ensure_ascii=False),
        a.state,
        a.active_since,
        a.fired_at,
        a.resolved_at,
        a.last_eval,
        a.keep_until,
        a.value,
        json.dumps(a.silenced_by),
        json.dumps(a.inhibited_by),
        a.stale,
    )


def _alert_table(alerts: list[Alert]) -> pa.Table:
    import pyarrow as pa

    def kind(column: str) -> pa.DataType:
        if column in _TIMESTAMP_COLUMNS:
            return pa.timestamp("us")
        return pa.float64() if column == "value" else pa.string()

    from console.core import arrays

    rows = [_alert_values(a) for a in alerts]
    return arrays.table(
        {c: arrays.column([r[i] for r in rows], kind(c)) for i, c in enumerate(_ALERT_COLUMNS)}
    )


def _history_table(transitions: list[Transition]) -> pa.Table:
    import pyarrow as pa

    columns = (
        ("fingerprint", pa.string()),
        ("ts", pa.timestamp("us")),
        ("from_state", pa.string()),
        ("to_state", pa.string()),
        ("value", pa.float64()),
        ("reason", pa.string()),
    )  # alert_history's order: inserted with SELECT *
    from console.core import arrays

    return arrays.table(
        {name: arrays.column([getattr(t, name) for t in transitions], kind) for name, kind in columns}
    )


def _rule_state_table(rule_states: list[dict[str, Any]]) -> pa.Table:
    import pyarrow as pa

    columns = (
        ("rule", "rule", pa.string()),
        ("source", "source", pa.string()),
        ("group_name", "group", pa.string()),
        ("last_eval", "last_eval", pa.timestamp("us")),
        ("health", "health", pa.string()),
        ("last_error", "error", pa.string()),
        ("instances", "instances", pa.int64()),
        ("duration_ms", "duration_ms", pa.float64()),
    )
    from console.core import arrays

    table = {column: arrays.column([s[key] for s in rule_states], kind) for column, key, kind in columns}
    table["file"] = arrays.column([s.get("file") for s in rule_states], pa.string())
    return arrays.table(table)


def save(
    store: Store, alerts: list[Alert], transitions: list[Transition], rule_states: list[dict[str, Any]]
) -> None:
    """Replace the engine's alert rows, append history and rule health, in one transaction."""
    marks = ", ".join("?" for _ in EXTERNAL_SOURCES)
    with store.shared.transaction() as cur:
        cur.load("_alerts_in", _alert_table(alerts))
        cur.load("_history_in", _history_table(transitions))
        cur.execute(f"DELETE FROM alerts WHERE source NOT IN ({marks})", list(EXTERNAL_SOURCES))
        cur.execute(
            f"INSERT INTO alerts ({', '.join(_ALERT_COLUMNS)}) "
            f"SELECT {', '.join(_ALERT_COLUMNS)} FROM _alerts_in"
        )
        cur.execute(
            "INSERT INTO alert_history (fingerprint, ts, from_state, to_state, value, "
            "reason) SELECT * FROM _history_in"
        )
        local = cur.local  # rule health is this console's own
        local.register("_rule_state_in", _rule_state_table(rule_states))
        try:
            local.execute("INSERT OR REPLACE INTO rule_state BY NAME SELECT * FROM _rule_state_in")
        finally:
            local.unregister("_rule_state_in")


def load_rule_states(store: Store) -> dict[str, dict[str, Any]]:
    """Each rule's last evaluation, health and error, by rule key."""
    columns, rows = store.query("SELECT * FROM rule_state ORDER BY rule")
    return {r[0]: dict(zip(columns, r)) for r in rows}
