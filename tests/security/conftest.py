"""Fixtures of the security tests."""

from __future__ import annotations

from tests.process import sandbox  # noqa: F401 - a fixture of these tests (test_files_*)
