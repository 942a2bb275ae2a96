"""Postgres stopped mid-incident and started again (issue 21, point 6): the console keeps the last
known shared state read-only with a banner, refuses writes (nothing queued) and catches up."""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path

import psycopg
import pytest
from pydantic import SecretStr

from console.alerts.persistence import load_alerts
from console.config.team import TeamConfig
from console.config.workspace import load_workspace
from console.incidents.lifecycle import acknowledge, add_note, declare, resolve
from console.incidents.records import get_incident, timeline
from console.runtime.session import Session
from console.screens.overview import open_incidents
from console.store.audit import list_audit
from console.team import shared as team_shared
from console.team.backend import TeamBackend, TeamUnreachable
from tests.integration.team.conftest import PASSWORD, TeamWorkspace, team_workspace
from tests.postgres import Postgres

pytestmark = pytest.mark.integration

T0 = datetime(2026, 11, 20, 9, 30, 0)


@pytest.fixture
def ws(pg: Postgres, tmp_path: Path) -> TeamWorkspace:
    ws = team_workspace(tmp_path / "ws", pg.database(password=PASSWORD))
    TeamBackend.from_config(TeamConfig(postgres=SecretStr(ws.dsn)), ".").migrate(T0)
    return ws


@pytest.fixture
def session(ws: TeamWorkspace) -> Iterator[Session]:
    opened = Session(load_workspace(ws.path), clock=lambda: T0, run_engine=False, listen=False)
    try:
        yield opened
    finally:
        opened.close()


def team_lines(session: Session) -> list[str]:
    return [line for line in session.banner_lines() if line.startswith("team database ")]


def wait_for_recovery(session: Session, incident_id: int, limit: float = 15.0) -> float:
    """Seconds from now until a read (every 0.1 s, as screens do) clears the outage."""
    started = time.monotonic()
    while session.team is not None and session.team.outage is not None:
        assert time.monotonic() - started < limit, session.team.outage
        get_incident(session.store, incident_id)
        time.sleep(0.1)
    return time.monotonic() - started


def test_postgres_stopped_and_started_again_mid_incident(pg: Postgres, ws: TeamWorkspace, session) -> None:
    store = session.store
    incident = declare(store, "fraud p99 latency over SLO", now=T0, actor="alice", severity="SEV2")
    acknowledge(store, incident.id, now=T0 + timedelta(minutes=1), actor="alice")
    add_note(store, incident.id, "looking at v4", now=T0 + timedelta(minutes=2), actor="alice")
    seen = get_incident(store, incident.id)
    before = timeline(store, incident.id)
    board = open_incidents(store)
    assert team_lines(session) == []
    recovered: list[float] = []
    session.team.on_recovery.append(lambda: recovered.append(time.monotonic()))

    with pg.down():
        # the screens still answer: the last known state
        assert get_incident(store, incident.id) == seen
        assert timeline(store, incident.id) == before
        assert open_incidents(store) == board
        (line,) = team_lines(session)
        assert line.startswith(f"team database {ws.shown} unreachable since ")
        assert "Connection refused" in line or "terminating connection" in line, line
        assert ": shared state as of " in line and line.endswith(" UTC, read-only; metrics still live")
        assert PASSWORD not in line
        # writes are refused, one line, nothing queued
        for write in (
            lambda: add_note(
                store, incident.id, "written while down", now=T0 + timedelta(minutes=3), actor="bob"
            ),
            lambda: resolve(store, incident.id, now=T0 + timedelta(minutes=4), actor="bob"),
        ):
            with pytest.raises(TeamUnreachable) as refused:
                write()
            (message,) = str(refused.value).splitlines()
            assert message.startswith(f"team database {ws.shown} unreachable since ")
            assert message.endswith("the change was not recorded; nothing is queued — retry when it is back")
        # a read never answered before has no last known answer: it raises, never an empty list
        with pytest.raises(
            TeamUnreachable, match="there is no last known answer to show, and nothing was changed or queued"
        ):
            list_audit(store)
        assert get_incident(store, incident.id).status == "acknowledged"

    seconds = wait_for_recovery(session, incident.id)
    assert seconds <= team_shared.PROBE_SECONDS + 2, seconds
    assert team_lines(session) == [] and len(recovered) == 1
    add_note(store, incident.id, "rolled back to v3", now=T0 + timedelta(minutes=5), actor="alice")
    after = timeline(store, incident.id)
    assert after[: len(before)] == before
    assert [(e.kind, e.text) for e in after[len(before) :]] == [("note", "rolled back to v3")]
    assert get_incident(store, incident.id).status == "acknowledged"  # the refused resolve never ran
    with psycopg.connect(ws.dsn) as con:  # nothing written while it was down arrived later
        texts = [r[0] for r in con.execute("SELECT text FROM oncall.timeline ORDER BY id").fetchall()]
    assert "written while down" not in texts and texts[-1] == "rolled back to v3"
    print(f"outage cleared {seconds:.2f} s after Postgres accepted connections again")


def test_a_server_restart_between_reads_is_no_outage(pg: Postgres, session) -> None:
    """The connection the server dropped is replaced at once: no banner for a restart."""
    store = session.store
    incident = declare(store, "disk full on scorer-2", now=T0, actor="alice", severity="SEV3")
    with pg.down():
        pass
    assert get_incident(store, incident.id).title == "disk full on scorer-2"
    assert session.team.outage is None
    # the listener's own connection comes back by itself (its backoff); until then the banner
    # says that changes are not heard — never that the database is down
    deadline = time.monotonic() + 10
    while team_lines(session) and time.monotonic() < deadline:
        assert all("not listening for changes" in line for line in team_lines(session))
        time.sleep(0.1)
    assert team_lines(session) == []


def test_while_down_reads_try_the_database_once_per_probe_interval(pg: Postgres, session) -> None:
    store = session.store
    incident = declare(store, "queue backlog", now=T0, actor="alice", severity="SEV3")
    get_incident(store, incident.id)
    with pg.down():
        started = time.monotonic()
        for _ in range(50):
            get_incident(store, incident.id)
        elapsed = time.monotonic() - started
        outage = session.team.outage
        assert outage is not None and outage.as_of is not None
        assert elapsed < 1.0, elapsed  # answered from the last answers, not a connect each
        print(f"50 reads during the outage took {elapsed * 1000:.1f} ms")


def test_the_cli_during_an_outage_says_so_in_one_line(pg: Postgres, ws: TeamWorkspace) -> None:
    declared = ws.oncall("incident", "declare", "--title", "fraud p99 latency over SLO")
    assert declared.returncode == 0, declared.stderr
    with pg.down():
        listed = ws.oncall("incident", "list")
        acked = ws.oncall("incident", "ack", "1")
    for done in (listed, acked):
        assert done.returncode == 1 and done.stdout == "", done
        (line,) = done.stderr.splitlines()
        assert line.startswith(f"oncall: team database {ws.shown} unreachable since "), line
        assert "Traceback" not in done.stderr
    # a command has no last answers from an earlier process: the list has nothing to show; the
    # ack (its read is inside its transaction) is refused as a change not made
    assert listed.stderr.rstrip().endswith(
        "there is no last known answer to show, and nothing was changed or queued"
    )
    assert acked.stderr.rstrip().endswith(
        "the change was not recorded; nothing is queued — retry when it is back"
    )
    listed = ws.oncall("incident", "list", "--format", "json")
    assert listed.returncode == 0 and '"triggered"' in listed.stdout  # the ack was not made later


RULES = """groups:
  - name: g
    rules:
      - alert: ErrorsHigh
        expr: SELECT 'api' AS service, 2.0 AS value
"""


def test_the_engine_keeps_ticking_and_every_alert_keeps_its_state(pg: Postgres, tmp_path: Path) -> None:
    ws = team_workspace(tmp_path / "ws", pg.database(password=PASSWORD), extra="rules: [rules/*.yaml]\n")
    TeamBackend.from_config(TeamConfig(postgres=SecretStr(ws.dsn)), ".").migrate(T0)
    (ws.root / "rules").mkdir()
    (ws.root / "rules" / "app.yaml").write_text(RULES)
    clock = [T0]
    session = Session(load_workspace(ws.path), clock=lambda: clock[0], listen=False)
    try:
        session.tick()
        assert [(a.name, a.state) for a in load_alerts(session.store)] == [("ErrorsHigh", "firing")]
        with pg.down():
            clock[0] = T0 + timedelta(minutes=1)
            session.tick()  # no rule is evaluated; it does not raise
            assert len(team_lines(session)) == 1
            assert [(a.name, a.state) for a in load_alerts(session.store)] == [("ErrorsHigh", "firing")]
        clock[0] = T0 + timedelta(minutes=2)
        session.tick()
        assert session.team is not None and session.team.outage is None
        assert [(a.name, a.state) for a in load_alerts(session.store)] == [("ErrorsHigh", "firing")]
        with psycopg.connect(ws.dsn) as con:
            history = con.execute("SELECT from_state, to_state FROM oncall.alert_history").fetchall()
        assert history == [("inactive", "firing")]  # no second firing after the outage
    finally:
        session.close()
