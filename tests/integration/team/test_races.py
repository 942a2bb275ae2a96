"""Engineers in two consoles on one team database racing on one incident or one playbook step:
one wins, the others are told who did, and the shared timeline has each change exactly once."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from pydantic import SecretStr

from console.config.team import TeamConfig
from console.store import Store
from console.team.backend import TeamBackend
from tests.integration.team.test_shared import open_console
from tests.postgres import Postgres
from tests.races import T0, edit_rounds, incident_rounds, step_rounds

pytestmark = pytest.mark.integration


@pytest.fixture
def consoles(tmp_path: Path, pg: Postgres) -> Iterator[tuple[Store, Store]]:
    dsn = pg.database()
    TeamBackend.from_config(TeamConfig(postgres=SecretStr(dsn)), ".").migrate(T0)
    a = open_console(tmp_path / "a.duckdb", dsn)
    b = open_console(tmp_path / "b.duckdb", dsn)
    try:
        yield a, b
    finally:
        a.close()
        b.close()


def test_racing_acks_and_resolves_have_one_winner_each(consoles: tuple[Store, Store]) -> None:
    incident_rounds(consoles)


def test_racing_runs_of_one_step_run_its_command_once(consoles: tuple[Store, Store], tmp_path: Path) -> None:
    step_rounds(consoles, tmp_path)


def test_racing_follow_ups_and_severity_edits_lose_nothing(consoles: tuple[Store, Store]) -> None:
    edit_rounds(consoles)
