"""Engineers in two consoles on one team database racing on one incident or one playbook step:
one wins, the others are told who did, and the shared timeline has each change exactly once."""

from __future__ import annotations

from pathlib import Path

import pytest

from console.store import Store
from tests.races import assign_rounds, edit_rounds, incident_rounds, step_rounds

pytestmark = pytest.mark.integration


def test_racing_acks_and_resolves_have_one_winner_each(consoles: tuple[Store, Store]) -> None:
    incident_rounds(consoles)


def test_racing_runs_of_one_step_run_its_command_once(consoles: tuple[Store, Store], tmp_path: Path) -> None:
    step_rounds(consoles, tmp_path)


def test_racing_follow_ups_and_severity_edits_lose_nothing(consoles: tuple[Store, Store]) -> None:
    edit_rounds(consoles)


def test_racing_role_assignments_lose_none(consoles: tuple[Store, Store]) -> None:
    assign_rounds(consoles)
