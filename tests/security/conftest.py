"""Fixtures of the security tests."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.process import sandbox  # noqa: F401 - a fixture of these tests (test_files_*)
from tests.sock import remove, runtime_dir


@pytest.fixture
def runtime(monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A private $XDG_RUNTIME_DIR for one test, with no claimed actor in the environment."""
    path = runtime_dir()
    monkeypatch.setenv("XDG_RUNTIME_DIR", str(path))
    monkeypatch.delenv("ONCALL_ACTOR", raising=False)
    yield path
    remove(path)
