"""The one alert list is most urgent first: firing, pending, muted, resolved; within a state
the most severe first, then the newest (issue #17)."""

from __future__ import annotations

import json
from datetime import datetime, timedelta

from console.alerts.listing import list_alerts
from console.store import Store
from console.store.ingest import canonical_labels

NOW = datetime(2026, 3, 1, 12, 0)


def _insert(store: Store, name: str, state: str, minutes_ago: int | None, **labels: str) -> None:
    since = None if minutes_ago is None else NOW - timedelta(minutes=minutes_ago)
    resolved = NOW if state == "resolved" else None
    inhibited = json.dumps(["by-critical"]) if labels.pop("muted", "") else "[]"
    with store.transaction() as cur:
        cur.execute(
            "INSERT INTO alerts (fingerprint, source, rule, name, labels, state, active_since, resolved_at,"
            " inhibited_by) VALUES (?, 'rule', ?, ?, ?, ?, ?, ?, ?)",
            [
                name,
                name,
                name,
                canonical_labels({"alertname": name, **labels}),
                state,
                since,
                resolved,
                inhibited,
            ],
        )


def test_firing_then_pending_then_muted_then_resolved_by_severity_then_newest(tmp_path) -> None:
    store = Store.open(tmp_path / "a.duckdb")
    try:
        _insert(store, "OldDrift", "firing", 600, severity="warning")  # the oldest row sat on top before
        _insert(store, "NewInfo", "firing", 1, severity="info")
        _insert(store, "PageOld", "firing", 30, severity="page")
        _insert(store, "PageNew", "firing", 5, severity="critical")
        _insert(store, "NoSeverity", "firing", 2)
        _insert(store, "TicketNew", "firing", 3, severity="ticket")
        _insert(store, "PendingPage", "pending", 1, severity="page")
        _insert(store, "PendingWarn", "pending", 0, severity="warning")
        _insert(store, "MutedPage", "firing", 0, severity="page", muted="yes")
        _insert(store, "ResolvedPage", "resolved", 90, severity="page")
        _insert(store, "Undated", "firing", None, severity="page")

        listed = list_alerts(store, NOW)
    finally:
        store.close()

    assert [(e.alert.name, e.state) for e in listed] == [
        ("PageNew", "firing"),
        ("PageOld", "firing"),
        ("Undated", "firing"),  # no start time: after the dated ones of its severity
        ("TicketNew", "firing"),
        ("OldDrift", "firing"),
        ("NoSeverity", "firing"),  # an unknown severity: after warning, before info
        ("NewInfo", "firing"),
        ("PendingPage", "pending"),
        ("PendingWarn", "pending"),
        ("MutedPage", "suppressed"),  # muted: after everything that can still page
        ("ResolvedPage", "resolved"),
    ]
