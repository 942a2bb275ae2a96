"""The post-rollback watch: judged on traffic after the rollback, verdict in the timeline."""

from __future__ import annotations

from datetime import datetime, timedelta

import pyarrow as pa
import pytest

from console.registry.base import WatchConfig
from console.registry.watch import NOT_RECOVERED, RECOVERED, WATCHING, assess, record_outcome, watch_rollback
from console.store import Store, canonical_labels, ingest_samples

START = datetime(2026, 3, 1, 12, 0)
CONFIG = WatchConfig.model_validate(
    {
        "for": "10m",
        "every": "30s",
        "window": "2m",
        "errors": {"name": "http_requests_total", "labels": {"service": "fraud", "code": "500"}},
        "total": {"name": "http_requests_total", "labels": {"service": "fraud"}},
        "objective": 0.99,
        "max_burn": 2,
    }
)


def _traffic(store: Store, error_share_after: float, *, reset_at: int | None = None) -> None:
    """100 requests a minute from 30 min before START to 15 min after; 20% errors before."""
    ts, ok, bad = [], [], []
    ok_total = bad_total = 0.0
    for minute in range(-30, 16):
        share = 0.2 if minute < 0 else error_share_after
        if reset_at is not None and minute == reset_at:
            ok_total = bad_total = 0.0
        ok_total += 100 * (1 - share)
        bad_total += 100 * share
        ts.append(START + timedelta(minutes=minute))
        ok.append(ok_total)
        bad.append(bad_total)
    n = len(ts)
    labels_ok = canonical_labels({"service": "fraud", "code": "200"})
    labels_bad = canonical_labels({"service": "fraud", "code": "500"})
    other = canonical_labels({"service": "other", "code": "500"})
    ingest_samples(
        store,
        pa.table(
            {
                "name": ["http_requests_total"] * (3 * n),
                "labels": [labels_ok] * n + [labels_bad] * n + [other] * n,
                "ts": pa.array(ts * 3, pa.timestamp("us")),
                "value": ok + bad + [v * 50 for v in bad],
            }
        ),
    )


@pytest.fixture
def store(tmp_path):
    with Store.open(tmp_path / "s.duckdb") as opened:
        yield opened


def test_recovers_once_a_full_window_after_the_rollback_is_healthy(store):
    _traffic(store, 0.001)
    early = assess(store, CONFIG, started=START, now=START + timedelta(minutes=1))
    assert early.state == WATCHING  # not yet a full window
    status = assess(store, CONFIG, started=START, now=START + timedelta(minutes=3))
    assert status.state == RECOVERED
    assert status.error_ratio == pytest.approx(0.001) and status.burn == pytest.approx(0.1)


def test_counter_reset_after_rollback_counts_as_traffic_not_a_negative(store):
    _traffic(store, 0.001, reset_at=2)
    status = assess(store, CONFIG, started=START, now=START + timedelta(minutes=4))
    assert status.state == RECOVERED and status.error_ratio == pytest.approx(0.001)


def test_still_burning_when_time_runs_out_is_not_recovered(store):
    _traffic(store, 0.05)
    assert assess(store, CONFIG, started=START, now=START + timedelta(minutes=5)).state == WATCHING
    status = assess(store, CONFIG, started=START, now=START + timedelta(minutes=10))
    assert status.state == NOT_RECOVERED and status.burn == pytest.approx(5.0)


def test_watch_loop_with_a_fake_clock_records_the_verdict_in_the_timeline(store, tmp_path):
    _traffic(store, 0.001)
    clock = {"now": START}
    sleeps = []

    def sleep(seconds):
        sleeps.append(seconds)
        clock["now"] += timedelta(seconds=seconds)

    class Borrowed:
        """The test's store, lent to the loop without being closed."""

        def query(self, *a):
            return store.query(*a)

        def close(self):
            pass

    seen = []
    status = watch_rollback(
        Borrowed,
        CONFIG,
        model="fraud-detector",
        started=START,
        clock=lambda: clock["now"],
        sleep=sleep,
        on_status=seen.append,
    )
    assert status.state == RECOVERED and status.at == START + timedelta(minutes=2)
    assert sleeps == [30.0] * 4 and [s.state for s in seen][-1] == RECOVERED
    store.con.execute(
        "INSERT INTO incidents (id, title, status, created_at) VALUES (7, 'fraud burning', 'open', ?)",
        [START],
    )
    record_outcome(store, status, model="fraud-detector", incident_id=7, actor="alice", started=START)
    [(kind, text)] = store.query("SELECT kind, text FROM timeline WHERE incident_id = 7")[1]
    assert kind == "watch" and "fraud-detector recovered after rollback" in text
