"""The promtool fixtures are what they say they are, under real `promtool test rules` (2.42):
every file in tests/fixtures/promtool/ passes and the one in failing/ fails."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from tests.integration.promtool.fixtures import FAILING, FIXTURES, PASSING
from tests.servers import require_binary

pytestmark = pytest.mark.integration


def _promtool(path: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [require_binary("promtool"), "test", "rules", str(path.relative_to(FIXTURES))],
        cwd=FIXTURES,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_there_are_enough_fixtures() -> None:
    assert len(PASSING) >= 12
    assert FAILING


@pytest.mark.parametrize("path", PASSING, ids=lambda p: p.name)
def test_passes_under_promtool(path: Path) -> None:
    done = _promtool(path)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "  SUCCESS\n" in done.stdout


@pytest.mark.parametrize("path", FAILING, ids=lambda p: p.name)
def test_fails_under_promtool(path: Path) -> None:
    done = _promtool(path)
    assert done.returncode == 1
    assert "  FAILED:\n" in done.stderr
    assert "alertname: InstanceDown, time: 4m" in done.stderr
