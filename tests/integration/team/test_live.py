"""Live: a change made in one console reaches the other's listener within 2 s, also after its
connection was killed; the listener's thread ends with the session."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from pydantic import SecretStr

from console.config.team import TeamConfig
from console.config.workspace import load_workspace
from console.incidents.lifecycle import acknowledge, add_note, declare
from console.incidents.records import get_incident
from console.runtime.session import Session
from console.team.backend import TeamBackend
from console.team.live import EVERYTHING, Listener
from tests.integration.team.conftest import PASSWORD, team_workspace
from tests.postgres import Postgres

pytestmark = pytest.mark.integration

T0 = datetime(2026, 11, 20, 9, 30)
LIVE = 2.0  # seconds: the target


@pytest.fixture
def dsn(pg: Postgres) -> str:
    url = pg.database(password=PASSWORD)
    TeamBackend.from_config(TeamConfig(postgres=SecretStr(url)), ".").migrate(T0)
    return url


def open_session(root: Path, dsn: str) -> Session:
    workspace = team_workspace(root, dsn)
    return Session(load_workspace(workspace.path), clock=lambda: T0, run_engine=False, listen=False)


@pytest.fixture
def sessions(tmp_path: Path, dsn: str) -> Iterator[tuple[Session, Session]]:
    alice, bob = open_session(tmp_path / "alice", dsn), open_session(tmp_path / "bob", dsn)
    try:
        yield alice, bob
    finally:
        alice.close()
        bob.close()


class Heard:
    """What a listener's callback was called with, waited for."""

    def __init__(self) -> None:
        self.calls: list[frozenset[str]] = []
        self.changed = threading.Condition()

    def __call__(self, tables: frozenset[str]) -> None:
        with self.changed:
            self.calls.append(tables)
            self.changed.notify_all()

    def wait_for(self, test: Callable[[frozenset[str]], bool], timeout: float) -> float:
        """Seconds until a call passing `test` arrived (fails after `timeout`)."""
        start = time.monotonic()
        with self.changed:
            seen = 0
            while True:
                if any(test(call) for call in self.calls[seen:]):
                    return time.monotonic() - start
                seen = len(self.calls)
                left = timeout - (time.monotonic() - start)
                assert left > 0, f"nothing matching within {timeout} s; heard {self.calls}"
                self.changed.wait(left)


def listening(session: Session) -> Listener:
    assert session.live is not None, "a team session listens"
    assert session.live.wait_listening(10), session.live.problem
    return session.live


def test_an_ack_in_one_console_reaches_the_others_listener_within_2_s(
    sessions: tuple[Session, Session],
) -> None:
    alice, bob = sessions
    incident = declare(alice.store, "fraud p99 over SLO", now=T0, actor="alice", severity="SEV2")
    heard = Heard()
    listening(bob).subscribe(heard)
    generation = bob.live.generation if bob.live else 0

    acknowledge(alice.store, incident.id, now=T0 + timedelta(minutes=1), actor="alice")
    took = heard.wait_for(lambda tables: "incidents" in tables, LIVE)

    assert took < LIVE
    assert heard.calls[-1] == frozenset({"incidents", "timeline"})
    assert bob.live is not None and bob.live.generation > generation
    assert get_incident(bob.store, incident.id).status == "acknowledged"


def test_a_killed_listen_connection_is_opened_again_and_later_changes_still_arrive(
    sessions: tuple[Session, Session], pg: Postgres
) -> None:
    alice, bob = sessions
    listener = listening(bob)
    heard = Heard()
    listener.subscribe(heard)
    pid = listener.backend_pid
    with pg.admin() as admin:
        rows = admin.execute(
            "SELECT pid FROM pg_stat_activity WHERE application_name = 'oncall' AND query LIKE 'LISTEN%'"
        ).fetchall()
        assert pid in {row[0] for row in rows} and len(rows) == 2  # alice's and bob's
        admin.execute("SELECT pg_terminate_backend(%s)", [pid])

    # After the reconnection: "everything may have changed" (what was sent meanwhile is lost) ...
    heard.wait_for(lambda tables: tables == EVERYTHING, 10)
    assert listener.connections == 2 and listener.backend_pid not in (None, pid)
    assert listener.problem is None
    # ... and later changes arrive as before.
    incident = declare(alice.store, "drift on amount", now=T0, actor="alice")
    add_note(alice.store, incident.id, "looking", now=T0, actor="alice")
    heard.wait_for(lambda tables: tables == frozenset({"incidents", "timeline"}), LIVE)


def test_closing_the_session_stops_its_listener_thread(tmp_path: Path, dsn: str) -> None:
    session = open_session(tmp_path / "ws", dsn)
    listener = listening(session)
    assert listener.alive
    assert any(t.name == "oncall-team-listen" for t in threading.enumerate())
    session.close()
    assert not listener.alive
    assert not [t for t in threading.enumerate() if t.name == "oncall-team-listen"]


def test_an_unreachable_database_is_retried_and_said_then_stops(tmp_path: Path) -> None:
    from tests.servers import free_port

    gone = f"postgresql://oncall:{PASSWORD}@127.0.0.1:{free_port()}/db"
    backend = TeamBackend.from_config(TeamConfig(postgres=SecretStr(gone)), ".")
    listener = Listener(backend, backoff=(0.05, 0.2)).start()
    deadline = time.monotonic() + 5
    while listener.problem is None and time.monotonic() < deadline:
        time.sleep(0.05)
    assert listener.problem is not None
    assert listener.problem.startswith("team database postgresql://***@127.0.0.1:")
    assert "not listening for changes" in listener.problem and PASSWORD not in listener.problem
    listener.stop()
    assert not listener.alive


def test_a_console_without_team_starts_no_listener(tmp_path: Path) -> None:
    root = tmp_path / "local"
    root.mkdir()
    (root / "oncall.yaml").write_text("store: oncall.duckdb\n")
    before = {t.ident for t in threading.enumerate()}
    session = Session(load_workspace(root / "oncall.yaml"), clock=lambda: T0, run_engine=False, listen=False)
    try:
        assert session.live is None
        assert not [t for t in threading.enumerate() if t.ident not in before]
    finally:
        session.close()


def test_a_listener_that_cannot_reconnect_is_said_in_the_banner(
    tmp_path: Path, dsn: str, pg: Postgres
) -> None:
    session = open_session(tmp_path / "ws", dsn)
    try:
        listener = listening(session)
        session.store.shared.query("SELECT count(*) FROM incidents")  # this thread's read connection
        with pg.admin() as admin:
            admin.execute("ALTER ROLE oncall CONNECTION LIMIT 1")  # no new connection: the listener's fails
            admin.execute("SELECT pg_terminate_backend(%s)", [listener.backend_pid])
        try:
            deadline = time.monotonic() + 10
            while listener.problem is None and time.monotonic() < deadline:
                time.sleep(0.05)
            (line,) = [x for x in session.banner_lines() if "not listening" in x]
            assert line.startswith("team database postgresql://***@127.0.0.1:")
            assert line.endswith("other consoles' changes show at the next refresh")
            assert session.store.shared.query("SELECT count(*) FROM incidents")[1] == [(0,)]  # reads work
        finally:
            with pg.admin() as admin:
                admin.execute("ALTER ROLE oncall CONNECTION LIMIT -1")
        deadline = time.monotonic() + 10
        while listener.problem is not None and time.monotonic() < deadline:
            time.sleep(0.05)
        assert not [x for x in session.banner_lines() if "not listening" in x]
    finally:
        session.close()
