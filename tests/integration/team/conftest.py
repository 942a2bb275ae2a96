"""A real Postgres (tests/postgres.py) for the team backend, and workspaces that name it."""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from console.store import Store
from tests.conftest import run_oncall
from tests.postgres import Postgres, remove, start_postgres

PASSWORD = "s3cret-Pass-9f2"


@pytest.fixture(scope="session")
def pg() -> Iterator[Postgres]:
    server = start_postgres()
    try:
        yield server
    finally:
        remove(server)


@dataclass
class TeamWorkspace:
    """A workspace whose `team:` names a fresh database through a 0600 dsn_file."""

    root: Path
    dsn: str

    @property
    def shown(self) -> str:
        """The DSN as oncall shows it: user and password masked."""
        parts = urlsplit(self.dsn)
        return f"postgresql://***@{parts.hostname}:{parts.port}{parts.path}"

    @property
    def path(self) -> Path:
        return self.root / "oncall.yaml"

    def oncall(self, *args: str):
        done = run_oncall("-w", str(self.path), *args, env={"ONCALL_NOW": "2026-11-20T12:00:00Z"})
        for stream in (done.stdout, done.stderr):
            assert PASSWORD not in stream, stream
            assert self.dsn not in stream, stream
        return done


def team_workspace(root: Path, dsn: str, *, store: str = "oncall.duckdb", extra: str = "") -> TeamWorkspace:
    root.mkdir(parents=True, exist_ok=True)
    dsn_file = root / "team.dsn"
    dsn_file.write_text(dsn + "\n")
    os.chmod(dsn_file, 0o600)
    (root / "oncall.yaml").write_text(
        f"store: {store}\nteam: {{dsn_file: team.dsn, user: alice@example.com}}\n{extra}"
    )
    return TeamWorkspace(root, dsn)


@pytest.fixture
def team(pg: Postgres, tmp_path: Path) -> TeamWorkspace:
    return team_workspace(tmp_path / "ws", pg.database(password=PASSWORD))


@pytest.fixture
def dsn(pg: Postgres) -> str:
    """A fresh team database with the schema made."""
    from datetime import datetime

    from pydantic import SecretStr

    from console.config.team import TeamConfig
    from console.team.backend import TeamBackend

    url = pg.database()
    TeamBackend.from_config(TeamConfig(postgres=SecretStr(url)), ".").migrate(datetime(2026, 11, 20, 9, 0))
    return url


def open_console(path: Path, dsn: str) -> Store:
    """A console's own store whose shared tables are in the team database `dsn`."""
    from pydantic import SecretStr

    from console.config.team import TeamConfig
    from console.team.shared import attach

    store = Store.open(path)
    attach(store, TeamConfig(postgres=SecretStr(dsn), user="alice@example.com"), path.parent)
    return store


@pytest.fixture
def consoles(tmp_path: Path, dsn: str) -> Iterator[tuple[Store, Store]]:
    """Two consoles' stores on one team database."""
    a = open_console(tmp_path / "a.duckdb", dsn)
    b = open_console(tmp_path / "b.duckdb", dsn)
    try:
        yield a, b
    finally:
        a.close()
        b.close()
