"""Paging alerts declare incidents on their own; one per alert group; timelines follow the alerts."""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from pathlib import Path

import pytest

from console.incidents import lifecycle as incidents
from console.incidents.loop import engine_events, run_incident_cycle
from console.store import Store

T0 = datetime(2026, 11, 20, 12, 0, 0)
LATENCY = {
    "alertname": "SLOErrorBudgetBurn",
    "slo": "fraud-scoring-latency",
    "severity": "page",
    "service": "fraud-scoring",
    "model": "fraud-detector",
    "window": "1h/5m",
}


@pytest.fixture
def store(tmp_path: Path):
    with Store.open(tmp_path / "s.duckdb") as opened:
        yield opened


def put_alert(
    store,
    fingerprint: str,
    labels: dict,
    *,
    state: str = "firing",
    fired_at: datetime | None = T0,
    silenced: bool = False,
    inhibited: bool = False,
) -> None:
    with store.transaction() as cur:
        cur.execute("DELETE FROM alerts WHERE fingerprint = ?", [fingerprint])
        cur.execute(
            "INSERT INTO alerts (fingerprint, source, rule, name, labels, annotations, "
            "state, active_since, fired_at, resolved_at, value, silenced_by, inhibited_by) "
            "VALUES (?, 'slo', 'r', 'SLOErrorBudgetBurn', ?, ?, ?, ?, ?, ?, 20.0, ?, ?)",
            [
                fingerprint,
                json.dumps(labels),
                json.dumps({"summary": "burning fast"}),
                state,
                fired_at,
                fired_at,
                fired_at + timedelta(minutes=30) if state == "resolved" else None,
                json.dumps(["s1"]) if silenced else None,
                json.dumps(["fp-other"]) if inhibited else None,
            ],
        )


def history(store, fingerprint: str, ts: datetime, to_state: str) -> None:
    with store.transaction() as cur:
        cur.execute(
            "INSERT INTO alert_history (fingerprint, ts, from_state, to_state, value) VALUES (?, ?, NULL, ?, 20.0)",
            [fingerprint, ts, to_state],
        )


def test_a_firing_page_alert_declares_one_incident(store) -> None:
    put_alert(store, "fp-1h", LATENCY)
    history(store, "fp-1h", T0, "firing")
    news = run_incident_cycle(store, T0 + timedelta(seconds=15))
    assert [n.created for n in news] == [True]
    incident = incidents.get_incident(store, news[0].incident_id)
    assert incident.severity == "SEV2" and incident.status == "triggered"
    assert incident.alerts == ["fp-1h"]
    assert incident.title == "SLOErrorBudgetBurn: burning fast"
    # the next cycles change nothing: the alert is covered
    assert run_incident_cycle(store, T0 + timedelta(seconds=30)) == []
    assert len(incidents.list_incidents(store)) == 1
    kinds = [(e.kind, e.text) for e in incidents.timeline(store, incident.id)]
    assert kinds.count(("alert", "alert fired: SLOErrorBudgetBurn")) == 1


def test_same_group_links_instead_of_declaring(store) -> None:
    put_alert(store, "fp-1h", LATENCY)
    run_incident_cycle(store, T0)
    put_alert(store, "fp-6h", {**LATENCY, "window": "6h/30m"}, fired_at=T0 + timedelta(minutes=3))
    news = run_incident_cycle(store, T0 + timedelta(minutes=3))
    assert [(n.created, n.incident_id) for n in news] == [(False, 1)]
    assert incidents.get_incident(store, 1).alerts == ["fp-1h", "fp-6h"]
    put_alert(store, "fp-avail", {**LATENCY, "slo": "fraud-scoring-availability"})
    news = run_incident_cycle(store, T0 + timedelta(minutes=4))
    assert [(n.created, n.incident_id) for n in news] == [(True, 2)]


def test_tickets_muted_and_pending_alerts_declare_nothing(store) -> None:
    put_alert(store, "t", {**LATENCY, "severity": "ticket"})
    put_alert(store, "s", {**LATENCY, "slo": "other"}, silenced=True)
    put_alert(store, "i", {**LATENCY, "slo": "fourth"}, inhibited=True)
    put_alert(store, "p", {**LATENCY, "slo": "third"}, state="pending", fired_at=None)
    assert run_incident_cycle(store, T0) == []
    assert incidents.list_incidents(store) == []


def test_resolved_alert_lands_in_the_timeline(store) -> None:
    put_alert(store, "fp-1h", LATENCY)
    history(store, "fp-1h", T0, "firing")
    run_incident_cycle(store, T0)
    put_alert(store, "fp-1h", LATENCY, state="resolved")
    history(store, "fp-1h", T0 + timedelta(minutes=30), "resolved")
    run_incident_cycle(store, T0 + timedelta(minutes=30))
    run_incident_cycle(store, T0 + timedelta(minutes=31))
    texts = [e.text for e in incidents.timeline(store, 1) if e.kind == "alert"]
    assert texts == ["alert fired: SLOErrorBudgetBurn", "alert resolved: SLOErrorBudgetBurn"]


def test_a_new_firing_after_resolution_opens_a_new_incident(store) -> None:
    put_alert(store, "fp-1h", LATENCY)
    run_incident_cycle(store, T0)
    incidents.acknowledge(store, 1, now=T0 + timedelta(minutes=1), actor="alice")
    incidents.resolve(store, 1, now=T0 + timedelta(minutes=40), actor="alice")
    # still the same firing: the resolved incident covers it
    assert run_incident_cycle(store, T0 + timedelta(minutes=41)) == []
    put_alert(store, "fp-1h", LATENCY, fired_at=T0 + timedelta(hours=2))
    news = run_incident_cycle(store, T0 + timedelta(hours=2))
    assert [(n.created, n.incident_id) for n in news] == [(True, 2)]


def test_engine_events_report_a_failure_instead_of_raising(store) -> None:
    put_alert(store, "fp-1h", LATENCY)
    events = engine_events(store, T0)
    assert [e.kind for e in events] == ["incident"] and "declared" in events[0].text
    store.close()
    failed = engine_events(store, T0)
    assert failed[0].text.startswith("incident step failed")
