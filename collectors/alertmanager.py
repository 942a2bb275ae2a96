"""`alertmanager`: mirror Alertmanager's alerts into the store's `alerts` table."""

from __future__ import annotations

import json
import math
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import httpx
import pyarrow as pa
import pyarrow.compute as pc

from collectors.base import Collector, CollectResult, SourceError, TimedOptions
from collectors.deadline import check_deadline
from collectors.http import HttpOptions, fetch, join_url, json_body, make_client
from collectors.validate import Refusals, Window, check, timestamps
from console.store import canonical_labels
from console.store.rows import scalar

if TYPE_CHECKING:
    from console.store import Store
    from console.store.shared import SharedCursor

SOURCE = "alertmanager"
GENERATOR = "oncall://rule/"  # generatorURL prefix of the alerts a console pushes: skipped here
# Alertmanager's alert states, in the console's words.
STATES = {"active": "firing", "unprocessed": "firing", "suppressed": "suppressed"}

ALERT_SCHEMA = pa.schema(
    [
        ("fingerprint", pa.string()),
        ("name", pa.string()),
        ("labels", pa.string()),
        ("annotations", pa.string()),
        ("state", pa.string()),
        ("starts_at", pa.timestamp("us")),
        ("silenced_by", pa.string()),
        ("inhibited_by", pa.string()),
    ]
)


class AlertmanagerOptions(HttpOptions, TimedOptions):
    """Where Alertmanager is, and the window an alert's startsAt must fall in."""


def _epoch(text: Any) -> float | None:
    """An RFC 3339 time as epoch seconds; None when absent, NaN when it is not a time."""
    if not text:
        return None
    try:
        moment = datetime.fromisoformat(str(text).replace("Z", "+00:00"))
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=UTC)
        return moment.timestamp()
    except (ValueError, OverflowError):
        return math.nan


def _append_alert(rows: dict[str, list[Any]], alert: dict[str, Any]) -> None:
    labels = dict(alert["labels"])
    status = alert.get("status") or {}
    rows["fingerprint"].append(str(alert["fingerprint"]))
    rows["name"].append(labels.get("alertname", ""))
    rows["labels"].append(canonical_labels(labels))
    rows["annotations"].append(canonical_labels(alert.get("annotations") or {}))
    rows["state"].append(STATES.get(status.get("state", "active"), "firing"))
    rows["starts_at"].append(_epoch(alert.get("startsAt")))
    rows["silenced_by"].append(json.dumps(list(status.get("silencedBy") or [])))
    rows["inhibited_by"].append(json.dumps(list(status.get("inhibitedBy") or [])))


def parse_alerts(body: Any, url: str, window: Window, refused: Refusals) -> pa.Table:
    """Alertmanager's /api/v2/alerts answer as rows for the alerts table.

    A startsAt outside the window (or not a time) is counted as refused and left empty: the
    alert is kept, active since it was first seen."""
    if not isinstance(body, list):
        raise SourceError(f"{url}: expected a list of alerts, got {type(body).__name__}")
    rows: dict[str, list[Any]] = {name: [] for name in ALERT_SCHEMA.names}
    try:
        for alert in body:
            if not str(alert.get("generatorURL") or "").startswith(GENERATOR):
                _append_alert(rows, alert)
            # else pushed by a console: already in the store as its own rule's
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        raise SourceError(f"{url}: malformed alert in the answer ({type(exc).__name__}: {exc})") from None
    stamps = pa.array(rows["starts_at"], pa.float64())
    given = pc.is_valid(stamps)
    keep = check(pc.fill_null(stamps, window.now), None, window, refused, what="startsAt")
    rows["starts_at"] = timestamps(pc.if_else(pc.and_(keep, given), stamps, None))
    return pa.table(rows, schema=ALERT_SCHEMA)


class AlertmanagerCollector(Collector):
    """GET /api/v2/alerts; new and changed alerts are upserted, vanished ones resolved."""

    kind = "alertmanager"
    Options = AlertmanagerOptions
    options: AlertmanagerOptions
    retention_kind = "alert_history"
    transport: httpx.BaseTransport | None = None

    def collect(self, store: Store, now: datetime) -> CollectResult:
        opts = self.options
        url = join_url(opts.url, "api/v2/alerts")
        with make_client(opts, self.transport, base_dir=self.base_dir) as client:
            response = fetch(client, "GET", url, max_bytes=opts.max_bytes)
        current = parse_alerts(json_body(response), response.url, self.window(now), self.refused)
        check_deadline(where=response.url)  # parsing counts too
        with store.shared.transaction() as cur:
            cur.load("_am", current)
            changed = self._apply(cur, now)
            store.set_cursor(cur.local, self.name, {"alerts": current.num_rows, "at": str(now)}, changed, now)
        return CollectResult(rows=changed, detail={"alerts": current.num_rows})

    @staticmethod
    def _apply(cur: SharedCursor, now: datetime) -> int:
        """Write transitions to alert_history, then upsert current and resolve vanished."""
        cur.execute(
            """
            INSERT INTO alert_history (fingerprint, ts, from_state, to_state, value)
            SELECT n.fingerprint, ?, a.state, n.state, NULL
            FROM _am n LEFT JOIN alerts a ON a.fingerprint = n.fingerprint
            WHERE (a.fingerprint IS NULL OR (a.source = ? AND a.state <> n.state))
            UNION ALL
            SELECT a.fingerprint, ?, a.state, 'resolved', NULL FROM alerts a
            WHERE a.source = ? AND a.state <> 'resolved'
              AND a.fingerprint NOT IN (SELECT fingerprint FROM _am)
            """,
            [now, SOURCE, now, SOURCE],
        )
        changed = scalar(cur)
        cur.execute(
            """
            INSERT INTO alerts (fingerprint, source, rule, name, labels, annotations, state,
                                active_since, fired_at, resolved_at, last_eval, silenced_by,
                                inhibited_by)
            SELECT n.fingerprint, ?, n.name, n.name, n.labels, n.annotations, n.state, seen.since,
                   seen.since, NULL, ?, n.silenced_by, n.inhibited_by
            FROM _am n LEFT JOIN alerts a ON a.fingerprint = n.fingerprint,
                 -- no startsAt to trust: active since the console first saw it
                 LATERAL (SELECT coalesce(n.starts_at, CASE WHEN a.state <> 'resolved'
                                          THEN a.active_since END, ?) AS since) seen
            ON CONFLICT (fingerprint) DO UPDATE SET
                labels = excluded.labels, annotations = excluded.annotations,
                state = excluded.state, active_since = excluded.active_since,
                fired_at = excluded.fired_at, resolved_at = NULL, last_eval = excluded.last_eval,
                silenced_by = excluded.silenced_by, inhibited_by = excluded.inhibited_by
            WHERE alerts.source = 'alertmanager'
            """,
            [SOURCE, now, now],
        )
        cur.execute(
            """
            UPDATE alerts SET state = 'resolved', resolved_at = ?, last_eval = ?
            WHERE source = ? AND state <> 'resolved'
              AND fingerprint NOT IN (SELECT fingerprint FROM _am)
            """,
            [now, now, SOURCE],
        )
        return changed
