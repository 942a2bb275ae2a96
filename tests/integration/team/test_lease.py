"""Who evaluates: two consoles on one team database, one evaluator at a time (the lease), a
handover when it dies with the `for:` timer intact and one incident, and a paused old holder
whose late writes are refused (fencing)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path

import pandas as pd
import psycopg
import pytest
from pydantic import SecretStr

from console.alerts.persistence import load_alerts
from console.config.team import TeamConfig
from console.config.workspace import load_workspace
from console.incidents.records import list_incidents, timeline
from console.runtime.engine import Engine
from console.runtime.session import Session
from console.store import canonical_labels, ingest_samples
from console.team.backend import TeamBackend
from console.team.schema import NAMESPACE
from tests.integration.team.conftest import team_workspace
from tests.postgres import Postgres

pytestmark = pytest.mark.integration

T0 = datetime(2026, 11, 20, 9, 30)
S = timedelta(seconds=1)
TICK = timedelta(seconds=0.5)  # the lease's TTL is then 1.5 × 0.5 s (the rules run every 1 s)

RULES = """groups:
  - name: g
    interval: 1s
    rules:
      - alert: ScoreErrors
        expr: errors > 0.5
        for: 1m
        labels: {severity: page}
"""


def workspace(root: Path, dsn: str) -> Path:
    """A console's workspace: its own store, the team's database, the rule."""
    ws = team_workspace(root, dsn, store="oncall.duckdb", extra="rules: [rules/*.yaml]\n")
    (root / "rules").mkdir()
    (root / "rules" / "app.yaml").write_text(RULES)
    return ws.path


class Console:
    """One console's session on its workspace, with a settable clock."""

    def __init__(self, path: Path) -> None:
        self.now = T0
        self.session = Session(load_workspace(path), clock=lambda: self.now, listen=False)

    def tick(self, now: datetime) -> list[str]:
        self.now = now
        return [e.text for e in self.session.tick() if e.kind in ("team", "alert", "incident")]

    @property
    def evaluated(self) -> int:
        """How many rule evaluations this console ran (its own rule health rows)."""
        return self.session.store.query("SELECT count(*) FROM rule_state")[1][0][0]


def samples(console: Console, until: datetime) -> None:
    """`errors` = 1 every 15 s from T0 to `until`, in this console's own store (metrics are local)."""
    count = int((until - T0) / timedelta(seconds=15)) + 1
    ts = [T0 + i * timedelta(seconds=15) for i in range(count)]
    frame = pd.DataFrame(
        {"name": "errors", "labels": canonical_labels({"svc": "score"}), "ts": ts, "value": 1.0}
    )
    ingest_samples(console.session.store, frame)


@pytest.fixture
def consoles(
    pg: Postgres, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[tuple[Console, Console]]:
    monkeypatch.setattr(Engine, "tick_interval", TICK)
    dsn = pg.database()
    TeamBackend.from_config(TeamConfig(postgres=SecretStr(dsn)), ".").migrate(T0)
    a, b = Console(workspace(tmp_path / "a", dsn)), Console(workspace(tmp_path / "b", dsn))
    for console in (a, b):
        samples(console, T0 + timedelta(minutes=3))
    try:
        yield a, b
    finally:
        a.session.close()
        b.session.close()


def lease_row(console: Console) -> tuple:
    assert console.session.team is not None
    with psycopg.connect(console.session.team.backend.dsn.conninfo) as con:
        return con.execute(
            f"SELECT holder, token FROM {NAMESPACE}.leases WHERE name = 'evaluator'"
        ).fetchone()


def take_over(b: Console, now: datetime) -> tuple[list[str], float]:
    """Tick `b` until it evaluates (the dead holder's lease expired): its events, seconds waited."""
    started = time.monotonic()
    while time.monotonic() - started < 10:
        events = b.tick(now)
        if b.session.evaluator is not None and b.session.evaluator.ours:
            return events, time.monotonic() - started
        time.sleep(0.05)
    raise AssertionError("the second console never took the lease over")


def history(console: Console) -> list[tuple]:
    rows = console.session.store.shared.query(
        "SELECT from_state, to_state, ts FROM alert_history ORDER BY ts, to_state"
    )[1]
    return [tuple(r) for r in rows]


def test_one_console_evaluates_and_the_other_takes_over_with_the_timer_intact(consoles) -> None:
    a, b = consoles
    assert a.tick(T0) == ["evaluating for the team", "ScoreErrors pending {severity=page,svc=score}"]
    said = b.tick(T0)
    assert said == [f"{a.session.evaluator.holder} evaluates; this console reads"]
    assert "alice@example.com on " in said[0] and str(a.session.workspace.store_path) in said[0]
    assert b.session.evaluator.line() == said[0] and b.evaluated == 0
    a.tick(T0 + 30 * S)
    assert b.tick(T0 + 30 * S) == [] and b.evaluated == 0  # said once; still reading

    # `a` dies (no more ticks); `b` takes the lease over once it expires, and evaluates at once
    (_, token) = lease_row(a)
    events, waited = take_over(b, T0 + 45 * S)
    assert waited <= a.session.engine.lease.ttl.total_seconds() + 0.5
    assert events == ["evaluating for the team"]  # still pending: no transition, not re-pended
    assert lease_row(b) == (b.session.engine.lease.holder, token + 1)
    (alert,) = load_alerts(b.session.store)
    assert (alert.state, alert.active_since) == ("pending", T0)

    # the timer started by `a` at T0 fires at T0 + 1m, under `b`
    fired = b.tick(T0 + 60 * S)
    assert fired[0] == "ScoreErrors firing {severity=page,svc=score}"
    assert fired[1].startswith("incident 1 declared: ")
    b.tick(T0 + 90 * S)
    assert history(b) == [("inactive", "pending", T0), ("pending", "firing", T0 + 60 * S)]
    (incident,) = list_incidents(a.session.store)
    assert [e.text for e in timeline(a.session.store, incident.id) if e.kind == "alert"] == [
        "alert fired: ScoreErrors"
    ]

    # `a` comes back: it reads, and declares nothing again
    assert a.tick(T0 + 120 * S) == [f"{b.session.evaluator.holder} evaluates; this console reads"]
    assert len(list_incidents(b.session.store)) == 1
    assert history(a) == history(b)


def test_a_paused_holder_that_lost_the_lease_writes_nothing(consoles) -> None:
    a, b = consoles
    a.tick(T0)
    b.tick(T0)
    # `a` renews at T0 + 1m, then pauses before it evaluates (a stopped VM, a long GC)
    resume, paused = threading.Event(), threading.Event()
    run = a.session.engine.alerts.run

    def slow_run(now: datetime, **kwargs):
        paused.set()
        resume.wait(10)
        return run(now, **kwargs)

    a.session.engine.alerts.run = slow_run  # type: ignore[method-assign]
    late: list[list[str]] = []
    thread = threading.Thread(target=lambda: late.append(a.tick(T0 + 60 * S)))
    thread.start()
    assert paused.wait(10)
    # meanwhile `b` takes over and fires the alert (T0 + 1m) with one incident
    take_over(b, T0 + 60 * S)
    assert b.tick(T0 + 61 * S) == [] and load_alerts(b.session.store)[0].state == "firing"
    before = (load_alerts(b.session.store), history(b), list_incidents(b.session.store))

    resume.set()
    thread.join(10)
    (events,) = late
    assert events[-1].startswith("this console no longer evaluates for the team: ")
    assert f"{b.session.engine.lease.holder} took it over (token 2)" in events[-1]
    assert events[-1].endswith("nothing written")
    assert not any(e.startswith(("ScoreErrors", "incident")) for e in events)
    assert (load_alerts(b.session.store), history(b), list_incidents(b.session.store)) == before
    # at its next tick it knows who evaluates
    assert a.tick(T0 + 90 * S) == [f"{b.session.evaluator.holder} evaluates; this console reads"]


def test_a_console_that_closes_hands_over_at_once(consoles) -> None:
    a, b = consoles
    a.tick(T0)
    b.tick(T0)
    a.session.close()
    assert b.tick(T0 + 30 * S) == ["evaluating for the team"]  # no wait for the lease to expire


# The evaluating console as a process of its own: it ticks once at T0 (the alert pends), says
# what it did, and waits to be killed.
EVALUATOR = """
import sys, time
from datetime import timedelta
from pathlib import Path
from console.runtime.engine import Engine
from tests.integration.team.test_lease import T0, TICK, Console, samples
Engine.tick_interval = TICK
a = Console(Path(sys.argv[1]))
samples(a, T0 + timedelta(minutes=3))
print(a.tick(T0), flush=True)
time.sleep(600)
"""


def test_the_evaluating_process_killed_hard_is_taken_over_with_one_incident(
    pg: Postgres, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(Engine, "tick_interval", TICK)
    dsn = pg.database()
    TeamBackend.from_config(TeamConfig(postgres=SecretStr(dsn)), ".").migrate(T0)
    path_a, path_b = workspace(tmp_path / "a", dsn), workspace(tmp_path / "b", dsn)
    env = {**os.environ, "PYTHONPATH": os.getcwd()}
    process = subprocess.Popen(
        [sys.executable, "-c", EVALUATOR, str(path_a)], stdout=subprocess.PIPE, text=True, env=env
    )
    b = Console(path_b)
    try:
        assert process.stdout is not None
        said = process.stdout.readline()
        assert "evaluating for the team" in said and "ScoreErrors pending" in said
        samples(b, T0 + timedelta(minutes=3))
        assert b.tick(T0 + 30 * S)[0].endswith(
            f"(pid {process.pid}, {path_a.parent}/oncall.duckdb) evaluates; this console reads"
        )
        process.send_signal(signal.SIGKILL)
        process.wait(10)

        events, waited = take_over(b, T0 + 45 * S)
        assert events == ["evaluating for the team"]
        assert waited <= b.session.engine.lease.ttl.total_seconds() + 0.5
        (alert,) = load_alerts(b.session.store)
        assert (alert.state, alert.active_since) == ("pending", T0)  # a's timer, not restarted
        fired = b.tick(T0 + 60 * S)
        assert fired[0] == "ScoreErrors firing {severity=page,svc=score}"
        b.tick(T0 + 90 * S)
        assert len(list_incidents(b.session.store)) == 1
        assert history(b) == [("inactive", "pending", T0), ("pending", "firing", T0 + 60 * S)]
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(10)
        b.session.close()


def test_only_the_evaluator_collects_alertmanagers_alerts(pg: Postgres, tmp_path: Path, monkeypatch) -> None:
    """Alertmanager's alerts are rows of the team's alert state: the reader's console leaves them alone."""
    from tests.servers import free_port

    monkeypatch.setattr(Engine, "tick_interval", TICK)
    dsn = pg.database()
    TeamBackend.from_config(TeamConfig(postgres=SecretStr(dsn)), ".").migrate(T0)
    source = f"sources:\n  - {{name: am, kind: alertmanager, url: 'http://127.0.0.1:{free_port()}'}}\n"
    paths = []
    for name in ("a", "b"):
        ws = team_workspace(tmp_path / name, dsn, store="oncall.duckdb", extra=source)
        paths.append(ws.path)
    a, b = Console(paths[0]), Console(paths[1])
    try:
        a.tick(T0)
        b.tick(T0)
        assert a.session.evaluator.ours and not b.session.evaluator.ours
        ran = {
            c: c.session.store.query("SELECT name FROM collector_state WHERE name = 'am'")[1] for c in (a, b)
        }
        assert ran[a] == [("am",)]  # it ran (and failed: nothing listens there), in the evaluator
        assert ran[b] == []  # never started in the reader
    finally:
        a.session.close()
        b.session.close()
