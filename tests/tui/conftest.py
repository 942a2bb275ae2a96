"""A demo workspace at a fixed time, and console sessions over it."""

from __future__ import annotations

import json
import shutil
from datetime import datetime, timedelta
from pathlib import Path

import pytest

from console.cli.commands.demo import prepare
from console.config.workspace import load_workspace
from console.runtime.session import Session
from console.store import Store

NOW = datetime(2026, 11, 20, 12, 0)


@pytest.fixture(scope="session")
def demo_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One seeded demo workspace (1 day of history), copied for each test."""
    target = tmp_path_factory.mktemp("demo-template")
    prepare(target, now=NOW, days=1, seed=7)
    with Store.open(target / "oncall.duckdb") as store, store.transaction() as cur:
        start = NOW - timedelta(minutes=20)
        labels = {
            "alertname": "FraudScoringLatency",
            "service": "fraud-scoring",
            "severity": "page",
            "slo": "fraud-scoring-latency",
        }
        cur.execute(
            """INSERT INTO alerts (fingerprint, source, rule, name, labels, annotations,
                       state, active_since, fired_at, last_eval, value)
                       VALUES ('f1', 'rule', 'slo/latency', 'FraudScoringLatency', ?, ?, 'firing',
                               ?, ?, ?, 19.5)""",
            [json.dumps(labels), json.dumps({"summary": "latency SLO burning 19.5x"}), start, start, NOW],
        )
        cur.execute(
            "INSERT INTO alert_history (fingerprint, ts, from_state, to_state, value) VALUES ('f1', ?, 'inactive', 'pending', 15.0), "
            "('f1', ?, 'pending', 'firing', 19.5)",
            [start, start + timedelta(minutes=5)],
        )
    return target


@pytest.fixture
def workspace(demo_template: Path, tmp_path: Path) -> Path:
    target = tmp_path / "demo"
    shutil.copytree(demo_template, target)
    return target


@pytest.fixture
def session_for():
    """Open console sessions over a workspace; closed after the test."""
    opened: list[Session] = []

    def open_session(root: Path, *, allow_actions: bool = True) -> Session:
        session = make_session(root, allow_actions=allow_actions)
        opened.append(session)
        return session

    yield open_session
    for session in opened:
        session.close()


def make_session(root: Path, *, allow_actions: bool = True) -> Session:
    if not allow_actions:
        path = root / "oncall.yaml"
        path.write_text(path.read_text().replace("allow_actions: true", "allow_actions: false"))
    return Session(load_workspace(root / "oncall.yaml"), clock=lambda: NOW, run_engine=False, listen=False)
