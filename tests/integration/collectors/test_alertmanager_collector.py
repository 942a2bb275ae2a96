"""The alertmanager collector against a real Alertmanager: appear, silence, resolve."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest

from collectors.alertmanager import AlertmanagerCollector
from collectors.http import HttpOptions
from console.store import Store

pytestmark = pytest.mark.integration


def utcnow() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


def iso(moment: datetime) -> str:
    return moment.replace(tzinfo=UTC).isoformat().replace("+00:00", "Z")


def post_alert(url: str, ends_at: datetime | None = None) -> None:
    alert = {
        "labels": {"alertname": "ModelErrorRate", "service": "fraud-scoring", "severity": "page"},
        "annotations": {"summary": "error rate above 5%"},
        "startsAt": iso(utcnow() - timedelta(minutes=1)),
    }
    if ends_at is not None:
        alert["endsAt"] = iso(ends_at)
    response = httpx.post(url + "/api/v2/alerts", json=[alert])
    assert response.status_code == 200, response.text


def test_alerts_appear_carry_silences_and_resolve(alertmanager, tmp_path: Path) -> None:
    store = Store.open(tmp_path / "store.duckdb")
    with store.transaction() as cur:  # a console rule's alert: never touched
        cur.execute(
            "INSERT INTO alerts (fingerprint, source, name, labels, state) "
            "VALUES ('rule-1', 'rule', 'Burn', '{}', 'firing')"
        )
    collector = AlertmanagerCollector("am", HttpOptions(url=alertmanager.url))

    post_alert(alertmanager.url)
    t1 = utcnow()
    assert collector.collect(store, t1).detail["alerts"] == 1
    rows = store.query(
        "SELECT fingerprint, source, name, state, labels, annotations, "
        "silenced_by, resolved_at FROM alerts WHERE source = 'alertmanager'"
    )[1]
    fingerprint, source, name, state, labels, annotations, silenced, resolved = rows[0]
    assert (source, name, state, resolved) == ("alertmanager", "ModelErrorRate", "firing", None)
    assert json.loads(labels)["service"] == "fraud-scoring"
    assert json.loads(annotations) == {"summary": "error rate above 5%"}
    assert json.loads(silenced) == []
    served = httpx.get(alertmanager.url + "/api/v2/alerts").json()
    assert fingerprint == served[0]["fingerprint"]

    silence = httpx.post(
        alertmanager.url + "/api/v2/silences",
        json={
            "matchers": [{"name": "alertname", "value": "ModelErrorRate", "isRegex": False, "isEqual": True}],
            "startsAt": iso(utcnow() - timedelta(seconds=1)),
            "endsAt": iso(utcnow() + timedelta(hours=1)),
            "createdBy": "oncall-test",
            "comment": "deploying the fix",
        },
    ).json()["silenceID"]
    collector.collect(store, t1 + timedelta(seconds=10))
    state, silenced = store.query(
        "SELECT state, silenced_by FROM alerts WHERE fingerprint = ?", [fingerprint]
    )[1][0]
    assert (state, json.loads(silenced)) == ("suppressed", [silence])

    post_alert(alertmanager.url, ends_at=utcnow() - timedelta(seconds=1))  # resolved at the source
    t3 = t1 + timedelta(seconds=20)
    collector.collect(store, t3)
    assert store.query("SELECT state, resolved_at FROM alerts WHERE fingerprint = ?", [fingerprint])[1] == [
        ("resolved", t3)
    ]
    history = store.query(
        "SELECT from_state, to_state FROM alert_history WHERE fingerprint = ? ORDER BY ts", [fingerprint]
    )[1]
    assert history == [(None, "firing"), ("firing", "suppressed"), ("suppressed", "resolved")]
    assert store.query("SELECT state FROM alerts WHERE fingerprint = 'rule-1'")[1] == [("firing",)]

    collector.collect(store, t3 + timedelta(seconds=10))  # nothing new: no new history
    assert store.count("alert_history") == 3
    store.close()
