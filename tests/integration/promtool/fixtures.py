"""The promtool fixtures (tests/fixtures/promtool/): files that pass, and the one that must fail."""

from __future__ import annotations

from pathlib import Path

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "promtool"
PASSING = sorted(FIXTURES.glob("*.yml"))
FAILING = sorted((FIXTURES / "failing").glob("*.yml"))
