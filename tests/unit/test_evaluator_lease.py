"""The evaluator lease's TTL from the rules in force, and the embedded default: no lease at all."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path

from console.config.workspace import load_workspace
from console.rules.model import Rule, Threshold
from console.runtime.evaluator import lease_ttl
from console.runtime.session import Session

TICK = timedelta(seconds=2)


def _rule(interval: timedelta) -> Rule:
    rule = Rule("A", Threshold("x", "last", timedelta(minutes=1), ">", 1.0), group="g")
    rule.interval = interval
    return rule


def test_the_lease_lasts_one_and_a_half_of_the_shortest_interval() -> None:
    rules = [_rule(timedelta(minutes=1)), _rule(timedelta(seconds=15))]
    assert lease_ttl(rules, TICK) == timedelta(seconds=22.5)
    assert lease_ttl([], TICK) == timedelta(seconds=3)  # no rules: the tick interval
    assert lease_ttl([_rule(timedelta(seconds=1))], TICK) == timedelta(seconds=3)  # never under a tick


def test_without_team_the_console_evaluates_with_no_lease(tmp_path: Path) -> None:
    (tmp_path / "oncall.yaml").write_text("store: oncall.duckdb\n")
    session = Session(
        load_workspace(tmp_path / "oncall.yaml"), clock=lambda: datetime(2026, 11, 20), listen=False
    )
    try:
        session.tick()
        assert session.engine is not None and session.engine.lease is None
        assert session.evaluator is None
    finally:
        session.close()
