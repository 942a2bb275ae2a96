"""Shared fixtures: a fixed clock and helpers to run the `oncall` CLI."""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import datetime
from pathlib import Path

import pytest

from tests.sock import runtime  # noqa: F401 - a fixture: a private $XDG_RUNTIME_DIR

REPO = Path(__file__).resolve().parents[1]
FIXED_NOW = datetime(2026, 11, 20, 12, 0, 0)


@pytest.fixture
def now() -> datetime:
    return FIXED_NOW


@pytest.fixture(autouse=True)
def _forget_secrets():
    """Each test starts with no remembered secret: a value one test's config named a secret
    (say a password `fraud`) is otherwise masked in every later test's output."""
    from console.core import secrets

    yield
    with secrets._lock:
        secrets._known.clear()


def run_oncall(
    *args: str, cwd: Path | None = None, env: dict[str, str] | None = None, timeout: float = 120
) -> subprocess.CompletedProcess[str]:
    """Run `oncall ARGS` in a fresh interpreter, as a user would from a shell."""
    return subprocess.run(
        [sys.executable, "-m", "console", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=timeout,
        env={**os.environ, **(env or {})},
    )


@pytest.fixture
def oncall():
    return run_oncall
