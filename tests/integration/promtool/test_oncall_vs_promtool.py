"""`oncall rules test` on the promtool fixtures gives promtool's verdicts and, for the failing
file, promtool's very output.

These need PromQL expressions, Go templates in annotations and recording rules (#18 items 1,
3 and 5); until those land they fail, by design (not skipped): the fixtures are the
acceptance of the issue, written in the language Prometheus users bring."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from tests.conftest import run_oncall
from tests.integration.promtool.fixtures import FAILING, FIXTURES, PASSING
from tests.servers import require_binary

pytestmark = pytest.mark.integration


def _both(path: Path) -> tuple[subprocess.CompletedProcess[str], subprocess.CompletedProcess[str]]:
    name = str(path.relative_to(FIXTURES))
    theirs = subprocess.run(
        [require_binary("promtool"), "test", "rules", name],
        cwd=FIXTURES,
        capture_output=True,
        text=True,
        timeout=120,
    )
    ours = run_oncall("rules", "test", name, cwd=FIXTURES)
    return theirs, ours


@pytest.mark.parametrize("path", PASSING, ids=lambda p: p.name)
def test_passes_under_oncall_as_under_promtool(path: Path) -> None:
    theirs, ours = _both(path)
    assert theirs.returncode == 0
    assert ours.returncode == 0, ours.stdout + ours.stderr
    assert (ours.stdout, ours.stderr) == (theirs.stdout, theirs.stderr)


@pytest.mark.parametrize("path", FAILING, ids=lambda p: p.name)
def test_fails_under_oncall_with_promtools_output(path: Path) -> None:
    theirs, ours = _both(path)
    assert (theirs.returncode, ours.returncode) == (1, 1)
    assert (ours.stdout, ours.stderr) == (theirs.stdout, theirs.stderr)
