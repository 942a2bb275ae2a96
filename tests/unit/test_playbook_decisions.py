"""A decision's answer is recorded: timeline text and detail (the postmortem's contract), run history."""

from __future__ import annotations

import textwrap
from datetime import datetime, timedelta
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


# -- the question names the incident's top suspect ------------------------------------------

SHIPPED = Path(__file__).resolve().parents[2] / "playbooks"


def _deployed(store, *, minutes_before: int, actor: str = "ci-deployer") -> None:
    from console.registry.history import record_alias_move

    with store.transaction() as cur:
        record_alias_move(
            cur,
            ts=NOW - timedelta(minutes=minutes_before),
            model="fraud-detector",
            alias="champion",
            from_version="2",
            to_version="3",
            actor=actor,
            source="test",
        )


def _shipped_run(store, name: str):
    incident = incidents.declare(store, "latency", now=NOW, actor="alice")
    ctx = RunContext(store=store, actor="alice", clock=lambda: NOW, sleep=lambda s: None, slos=[])
    alert = {"name": "LatencyRegression", "labels": {"model": "fraud-detector", "service": "fraud-scoring"}}
    return start_run(ctx, load_playbook(SHIPPED / name), incident=incident, alert=alert), incident


def _question(runner, step_id: str) -> str:
    step = runner.playbook.step(step_id)
    return runner.render(step.question or "", f"step {step_id}.question")


def test_the_latency_question_names_the_deploy_its_version_actor_and_time(store):
    _deployed(store, minutes_before=6)
    runner, _ = _shipped_run(store, "latency-regression.yaml")
    question = _question(runner, "started-with-deploy")
    assert question.startswith(
        "The top suspect is alias_move fraud-detector v2 → v3 by ci-deployer at 11:54 UTC "
        "(6 min before the incident was declared; score "
    )
    assert question.endswith(
        "Did the p99 latency of fraud-detector start rising while v3 serves, "
        "after it was normal under the version before it?"
    )
    assert "What changed" not in question  # names the change instead of pointing at a panel
    top = runner.context["top_suspect"]
    assert (top["kind"], top["version"], top["actor"], top["at"], top["minutes_before"]) == (
        "alias move",
        "3",
        "ci-deployer",
        "11:54",
        6,
    )


def test_with_no_suspects_the_question_says_no_change_was_found(store):
    runner, _ = _shipped_run(store, "latency-regression.yaml")
    assert runner.context["suspects"] == [] and runner.context["top_suspect"] is None
    assert _question(runner, "started-with-deploy") == (
        "No change was found before the burn. Did the p99 latency of fraud-detector start rising "
        "after a new version of it went live (see this playbook's recent-changes output)?"
    )
    error_rate, _ = _shipped_run(store, "error-rate-spike.yaml")
    assert _question(error_rate, "cause").startswith(
        "No change was found before the burn. Where do the errors of fraud-scoring come from? "
        "new-version: they began while a new version of fraud-detector serves"
    )


def test_a_run_without_an_incident_renders_the_fallback(store, tmp_path):
    ctx = RunContext(store=store, actor="alice", clock=lambda: NOW, sleep=lambda s: None, slos=[])
    runner = start_run(ctx, load_playbook(SHIPPED / "latency-regression.yaml"), alert=None)
    assert _question(runner, "started-with-deploy").startswith("No change was found before the burn.")


def test_suspects_that_cannot_be_ranked_are_said_not_hidden(store, monkeypatch):
    import console.incidents.suspects as suspects

    def broken(*args, **kwargs):
        raise RuntimeError("no burn data\nsecond line")

    monkeypatch.setattr(suspects, "what_changed", broken)
    runner, _ = _shipped_run(store, "latency-regression.yaml")
    assert _question(runner, "started-with-deploy").startswith(
        "No suspects ranked (what changed unavailable: no burn data). Did the p99 latency"
    )


def test_the_error_rate_question_names_the_new_version(store):
    _deployed(store, minutes_before=12, actor="bob")
    runner, _ = _shipped_run(store, "error-rate-spike.yaml")
    question = _question(runner, "cause")
    assert question.startswith(
        "The top suspect is alias_move fraud-detector v2 → v3 by bob at 11:48 UTC "
        "(12 min before the incident was declared)."
    )
    assert "new-version: they began while v3 of fraud-detector serves" in question


SUSPECT_PLAYBOOK = """
id: s
title: suspect
steps:
  - id: check-deploy
    kind: decision
    title: Did it start with the top suspect?
    question: >-
      {% if top_suspect %}Did it start with {{ top_suspect.summary }} at {{ top_suspect.at }}
      ({{ top_suspect.when }})?{% else %}Did it start with a change? None was found.{% endif %}
    answers: {"yes": roll, "no": stop}
  - id: roll
    kind: instruction
    next: end
  - id: stop
    kind: instruction
"""


def test_the_rendered_suspect_question_reaches_the_timeline_and_the_postmortem(store, tmp_path):
    from console.incidents.postmortem import export_markdown

    _deployed(store, minutes_before=12)
    path = tmp_path / "s.yaml"
    path.write_text(textwrap.dedent(SUSPECT_PLAYBOOK))
    incident = incidents.declare(store, "latency", now=NOW, actor="alice")
    ctx = RunContext(store=store, actor="alice", clock=lambda: NOW, sleep=lambda s: None, slos=[])
    runner = start_run(ctx, load_playbook(path), incident=incident)
    assert runner.advance(answer="yes").next_step == "roll"
    asked = "Did it start with alias_move fraud-detector v2 → v3 by ci-deployer at 11:48 (12 min before the incident was declared)?"
    [step] = [e for e in incidents.timeline(store, incident.id) if e.kind == "step"]
    assert step.detail["question"] == asked
    assert asked in export_markdown(store, incident.id, now=NOW)


def test_a_run_stored_before_suspects_were_kept_still_renders(store, tmp_path):
    from console.playbooks.runs import resume_run

    path = tmp_path / "s.yaml"
    path.write_text(textwrap.dedent(SUSPECT_PLAYBOOK))
    ctx = RunContext(store=store, actor="alice", clock=lambda: NOW, sleep=lambda s: None, slos=[])
    playbook = load_playbook(path)
    runner = start_run(ctx, playbook)
    with store.transaction() as cur:  # as an older console stored it
        cur.execute("UPDATE playbook_runs SET variables = ? WHERE id = ?", ['{"vars": {}}', runner.run_id])
    resumed = resume_run(ctx, {"s": playbook}, runner.run_id)
    assert resumed.preview().question == "Did it start with a change? None was found."


def test_an_actor_name_from_outside_reaches_the_question_inert(store):
    _deployed(store, minutes_before=12, actor="ci\x1b]0;owned\x07\r\nforged")
    runner, _ = _shipped_run(store, "latency-regression.yaml")
    question = _question(runner, "started-with-deploy")
    assert "by ci\\x1b]0;owned\\x07\\r\\nforged at 11:48 UTC" in question
    assert not any(ord(c) < 0x20 for c in question)
