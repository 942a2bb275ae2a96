"""A step whose template fails to render is `failed`, never `done`, and the run stops there."""

from __future__ import annotations

import textwrap
from datetime import datetime
from pathlib import Path

import pytest

from console.incidents import lifecycle as incidents
from console.playbooks.context import RunContext
from console.playbooks.loading import load_playbook
from console.playbooks.runs import start_run
from console.store import Store

NOW = datetime(2026, 11, 20, 12, 0, 0)

BROKEN = {
    "instruction title": ("kind: instruction\n    title: Page {{ labels.owner }}", "labels.owner"),
    "instruction text": ("kind: instruction\n    text: \"{{ ''.__class__.__mro__ }}\"", "unsafe"),
    "decision question": (
        'kind: decision\n    question: Restart {{ labels.owner }}?\n    answers: {"yes": after, "no": after}',
        "labels.owner",
    ),
    "no top suspect": ("kind: instruction\n    title: Roll back {{ top_suspect.summary }}", "summary"),
    "query params": (
        'kind: query\n    sql: SELECT ?\n    params: ["{{ labels.owner }}"]\n    on_fail: after',
        "labels.owner",
    ),
}


def playbook(tmp_path: Path, step: str) -> Path:
    path = tmp_path / "p.yaml"
    path.write_text(
        textwrap.dedent("""\
        id: p
        title: p
        steps:
          - id: broken
            {step}
          - id: after
            kind: instruction
        """).replace("{step}", step)
    )
    return path


@pytest.mark.parametrize("case", sorted(BROKEN))
def test_a_step_that_does_not_render_is_failed_and_the_run_stops(tmp_path: Path, case: str) -> None:
    step, words = BROKEN[case]
    path = playbook(tmp_path, step)
    with Store.open(tmp_path / "s.duckdb") as store:
        incident = incidents.declare(store, "x", now=NOW, actor="alice")
        ctx = RunContext(store=store, actor="alice", clock=lambda: NOW, sleep=lambda s: None)
        runner = start_run(ctx, load_playbook(path), incident=incident, alert={"name": "A", "labels": {}})
        outcome = runner.advance(answer="yes" if "decision" in case else None)
        assert outcome.outcome == "failed", outcome
        assert f"{path}:4: step broken" in outcome.error and "cannot render" in outcome.error
        assert words in outcome.error
        assert runner.status == "failed" and runner.current().id == "broken"  # not moved on
        assert outcome.next_step is None
        phases = store.query("SELECT phase FROM audit WHERE target = 'playbook:p/broken'")[1]
        timeline = [e.text for e in incidents.timeline(store, incident.id)]
    assert phases == [("failed",)]
    assert any(t.startswith("step broken") and ": failed — " in t for t in timeline), timeline


def test_cli_shows_the_render_failure_and_exits_1(oncall, tmp_path: Path) -> None:
    (tmp_path / "pbs").mkdir()
    (tmp_path / "oncall.yaml").write_text("playbooks: [pbs]\n")
    playbook(tmp_path / "pbs", BROKEN["instruction title"][0])
    with Store.open(tmp_path / "oncall.duckdb") as store:
        incidents.declare(store, "x", now=NOW, actor="alice", detail={"alert": {"name": "A"}})
    done = oncall("playbook", "run", "p", "--incident", "1", "--yes", cwd=tmp_path)
    assert done.returncode == 1, done.stdout + done.stderr
    assert "cannot prepare this step: " in done.stdout and "cannot render" in done.stdout
    assert "  → failed" in done.stdout
    assert "→ done" not in done.stdout and "run 1 failed" in done.stdout
