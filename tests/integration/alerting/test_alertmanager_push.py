"""Console alerts reach a real Alertmanager: firing → active, resolved → gone, silenced → suppressed."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

import httpx
import pandas as pd
import pytest

from collectors.alertmanager import AlertmanagerCollector
from collectors.http import HttpOptions
from console.alerts.alertmanager import AlertmanagerClient, AlertmanagerError
from console.alerts.silences import create_silence, expire_silence
from console.alerts.state import AlertEngine
from console.rules.matchers import Matcher
from console.rules.model import Rule, Threshold
from console.store import Store, canonical_labels, ingest_samples

pytestmark = pytest.mark.integration


def _now() -> datetime:
    # Alertmanager judges endsAt by its own clock, so these tests run on the wall clock.
    return datetime.now(UTC).replace(tzinfo=None, microsecond=0)


def _put(store: Store, alert: str, value: float, at: datetime) -> None:
    ingest_samples(
        store,
        pd.DataFrame(
            {"name": ["cond"], "labels": [canonical_labels({"case": alert})], "ts": [at], "value": [value]}
        ),
    )


def _rule(alert: str) -> Rule:
    return Rule(
        alert,
        Threshold(f'cond{{case="{alert}"}}', "last", timedelta(minutes=1), ">", 0, by=["case"]),
        labels={"severity": "page"},
        annotations={"summary": "case {{ $labels.case }}"},
    )


def _am_alerts(server, alertname: str) -> list[dict]:
    response = httpx.get(server.url + "/api/v2/alerts", timeout=5)
    response.raise_for_status()
    return [a for a in response.json() if a["labels"].get("alertname") == alertname]


def _wait_for(check, timeout: float = 15.0):
    deadline = time.monotonic() + timeout
    while True:
        result = check()
        if result or time.monotonic() > deadline:
            return result
        time.sleep(0.3)


def test_firing_then_resolved(alertmanager, tmp_path):
    store = Store.open(tmp_path / "s.duckdb")
    client = AlertmanagerClient(alertmanager.url)
    engine = AlertEngine(store, [_rule("ConsoleFires")], notifier=client)
    now = _now()
    _put(store, "ConsoleFires", 1.0, now)
    report = engine.run(now)
    assert report.notify_error is None
    alerts = _wait_for(lambda: _am_alerts(alertmanager, "ConsoleFires"))
    assert len(alerts) == 1
    assert alerts[0]["status"]["state"] == "active"
    assert alerts[0]["labels"] == {"alertname": "ConsoleFires", "case": "ConsoleFires", "severity": "page"}
    assert alerts[0]["annotations"] == {"summary": "case ConsoleFires"}
    # an alertmanager source on the same store does not read the console's own alert back
    collected = AlertmanagerCollector("am", HttpOptions(url=alertmanager.url)).collect(store, now)
    assert collected.detail["alerts"] == 0
    assert store.query("SELECT count(*) FROM alerts WHERE source = 'alertmanager'")[1] == [(0,)]

    time.sleep(1.1)  # resolved means endsAt already past on Alertmanager's clock
    later = _now()
    _put(store, "ConsoleFires", 0.0, later)
    report = engine.run(later)
    assert report.notify_error is None
    assert [t.to_state for t in report.transitions] == ["resolved"]
    assert _wait_for(lambda: not _am_alerts(alertmanager, "ConsoleFires"))
    store.close()


def test_console_silence_suppresses_there(alertmanager, tmp_path):
    store = Store.open(tmp_path / "s.duckdb")
    client = AlertmanagerClient(alertmanager.url)
    engine = AlertEngine(store, [_rule("ConsoleSilenced")], notifier=client)
    now = _now()
    _put(store, "ConsoleSilenced", 1.0, now)
    engine.run(now)
    assert _wait_for(lambda: _am_alerts(alertmanager, "ConsoleSilenced"))
    silence = create_silence(
        store,
        [Matcher("alertname", "ConsoleSilenced")],
        now,
        now + timedelta(hours=1),
        created_by="tester",
        comment="deploy in progress",
        now=now,
        alertmanager=client,
    )
    assert silence.external_id

    def suppressed():
        alerts = _am_alerts(alertmanager, "ConsoleSilenced")
        return alerts and alerts[0]["status"]["state"] == "suppressed" and alerts[0]

    alert = _wait_for(suppressed)
    assert alert, _am_alerts(alertmanager, "ConsoleSilenced")
    assert alert["status"]["silencedBy"] == [silence.external_id]
    report = engine.run(now + timedelta(seconds=1))
    (mine,) = report.alerts
    assert mine.silenced_by == [silence.id]

    expire_silence(store, silence, now=now + timedelta(seconds=2), actor="tester", alertmanager=client)
    assert _wait_for(
        lambda: (
            (_am_alerts(alertmanager, "ConsoleSilenced") or [{}])[0].get("status", {}).get("state")
            == "active"
        )
    )
    audit = store.query("SELECT action, phase FROM audit ORDER BY id")[1]
    assert audit == [
        ("silence.create", "before"),
        ("silence.create", "after"),
        ("silence.expire", "before"),
        ("silence.expire", "after"),
    ]
    store.close()


def test_unreachable_alertmanager_is_one_line_and_evaluation_goes_on(tmp_path):
    from tests.servers import free_port

    store = Store.open(tmp_path / "s.duckdb")
    url = f"http://127.0.0.1:{free_port()}"
    engine = AlertEngine(store, [_rule("NoAm")], notifier=AlertmanagerClient(url, timeout=2))
    now = _now()
    _put(store, "NoAm", 1.0, now)
    report = engine.run(now)
    assert report.notify_error and url in report.notify_error
    assert "\n" not in report.notify_error
    assert [a.state for a in report.alerts] == ["firing"]
    with pytest.raises(AlertmanagerError):
        AlertmanagerClient(url, timeout=2).expire_silence("x")
    store.close()
