"""The house rules, checked by README's test command: lint, format, types, layers and limits.

The tools live in `.venvs/lint` (tests/setup/lint.sh, versions pinned in tests/setup/lint.txt),
apart from the project's virtualenv; mypy reads the project's libraries through its interpreter.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
LINT_BIN = ROOT / ".venvs" / "lint" / "bin"

CHECKS = {
    "ruff check": [str(LINT_BIN / "ruff"), "check", "--no-cache", "."],
    "ruff format": [str(LINT_BIN / "ruff"), "format", "--no-cache", "--check", "."],
    "mypy": [str(LINT_BIN / "mypy"), "--python-executable", sys.executable, "--no-incremental"],
    "import layers": [str(LINT_BIN / "lint-imports"), "--no-cache"],
    # no import cycle, no function over radon CC 20, average CC at most 3.5, no module over 450 lines
    "house limits": [
        str(LINT_BIN / "python"),
        str(ROOT / "tests" / "lint" / "house.py"),
        "--check",
        str(ROOT),
    ],
}


@pytest.mark.parametrize("name", sorted(CHECKS))
def test_the_tree_passes(name: str) -> None:
    argv = CHECKS[name]
    assert Path(argv[0]).exists(), (
        f"{argv[0]} is missing: run tests/setup/lint.sh (README's test command does)"
    )
    result = subprocess.run(argv, cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, f"{name} failed:\n{result.stdout}{result.stderr}"
