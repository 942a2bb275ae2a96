"""A decision's answer is recorded: timeline text and detail (the postmortem's contract), run history."""

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

PLAYBOOK = """
id: d
title: decide
steps:
  - id: check-deploy
    kind: decision
    title: Did it start after the deploy?
    question: Did the rise on {{ labels.model }} start after the deploy?
    answers: {"yes": roll, "no": stop}
  - id: roll
    kind: instruction
    next: end
  - id: stop
    kind: instruction
"""


@pytest.fixture
def store(tmp_path: Path):
    with Store.open(tmp_path / "s.duckdb") as s:
        yield s


def test_the_answer_and_the_rendered_question_reach_timeline_and_history(store, tmp_path):
    path = tmp_path / "pb.yaml"
    path.write_text(textwrap.dedent(PLAYBOOK))
    incident = incidents.declare(store, "latency", now=NOW, actor="alice")
    ctx = RunContext(store=store, actor="alice", clock=lambda: NOW, sleep=lambda s: None)
    alert = {"name": "A", "labels": {"service": "s", "model": "fraud"}}
    runner = start_run(ctx, load_playbook(path), incident=incident, alert=alert)
    assert runner.advance(answer="yes").next_step == "roll"
    steps = [e for e in incidents.timeline(store, incident.id) if e.kind == "step"]
    assert steps[-1].text == 'step check-deploy (Did it start after the deploy?): answered "yes"'
    detail = steps[-1].detail
    assert detail["outcome"] == "answered" and detail["answer"] == "yes"
    assert detail["question"] == "Did the rise on fraud start after the deploy?"
    assert runner.history[-1]["output"]["answer"] == "yes"


MITIGATE = """
id: m
title: mitigate
steps:
  - id: mark
    kind: instruction
    title: Mark the incident mitigated
    incident: mitigate
"""


def _mitigating(store, tmp_path: Path, incident):
    path = tmp_path / "m.yaml"
    path.write_text(textwrap.dedent(MITIGATE))
    ctx = RunContext(store=store, actor="alice", clock=lambda: NOW, sleep=lambda s: None)
    return start_run(ctx, load_playbook(path), incident=incident)


def test_an_incident_step_mitigates_through_the_lifecycle(store, tmp_path):
    incident = incidents.declare(store, "latency", now=NOW, actor="alice")
    incidents.acknowledge(store, incident.id, now=NOW, actor="alice")
    outcome = _mitigating(store, tmp_path, incident).advance()
    assert outcome.outcome == "done"
    assert incidents.get_incident(store, incident.id).status == "mitigated"
    texts = [e.text for e in incidents.timeline(store, incident.id) if e.kind == "status"]
    assert texts[-1] == "acknowledged → mitigated: playbook m"


def test_a_triggered_incident_is_acknowledged_on_the_way_to_mitigated(store, tmp_path):
    """A headless `playbook run` on an incident nobody acked yet (the demo's page) still ends
    mitigated: running the playbook takes the incident."""
    incident = incidents.declare(store, "latency", now=NOW, actor="alice")
    outcome = _mitigating(store, tmp_path, incident).advance()
    assert outcome.outcome == "done", outcome.error
    after = incidents.get_incident(store, incident.id)
    assert after.status == "mitigated" and after.commander == "alice"
    texts = [e.text for e in incidents.timeline(store, incident.id) if e.kind == "status"]
    assert texts[-2:] == [
        "triggered → acknowledged: playbook m, to mitigate",
        "acknowledged → mitigated: playbook m",
    ]


def test_a_transition_not_allowed_fails_the_step_saying_why(store, tmp_path):
    incident = incidents.declare(store, "latency", now=NOW, actor="alice")
    for move in (incidents.acknowledge, incidents.resolve):
        move(store, incident.id, now=NOW, actor="alice")
    runner = _mitigating(store, tmp_path, incident)
    outcome = runner.advance()
    assert outcome.outcome == "failed"
    assert runner.status == "failed"  # the run stops there (`playbook run` exits 1), not "done"
    assert outcome.error == f"incident {incident.id} is resolved; it can move to closed, not mitigated"
    assert incidents.get_incident(store, incident.id).status == "resolved"


def test_an_unknown_transition_is_one_problem_with_file_and_line(tmp_path):
    from console.playbooks.loading import PlaybookError

    path = tmp_path / "bad.yaml"
    path.write_text(textwrap.dedent(MITIGATE).replace("incident: mitigate", "incident: explode"))
    with pytest.raises(PlaybookError, match=r"bad\.yaml:8: steps\[0\]\.incident"):
        load_playbook(path)
