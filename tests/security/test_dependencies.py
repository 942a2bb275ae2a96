"""The sandbox we rely on for playbook templates is one without known escapes."""

from __future__ import annotations

import tomllib
from importlib.metadata import version
from pathlib import Path

from packaging.requirements import Requirement
from packaging.version import Version

PYPROJECT = Path(__file__).resolve().parents[2] / "pyproject.toml"


def _requirement(name: str) -> Requirement:
    deps = tomllib.loads(PYPROJECT.read_text())["project"]["dependencies"]
    return next(r for r in map(Requirement, deps) if r.name == name)


def test_jinja2_releases_with_sandbox_escapes_are_refused() -> None:
    spec = _requirement("jinja2").specifier
    assert not spec.contains("3.1.5"), "jinja2 3.1.5 has a known sandbox escape (CVE-2025-27516)"
    assert spec.contains("3.1.6")


def test_installed_jinja2_is_a_safe_release() -> None:
    assert Version(version("jinja2")) >= Version("3.1.6")
