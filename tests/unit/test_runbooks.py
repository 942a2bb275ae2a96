"""Playbook runner: rendering in the sandbox, argv injection, queries, decisions, waits, audit."""

from __future__ import annotations

import json
import os
import pwd
import sys
import textwrap
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from console.incidents import lifecycle as incidents
from console.playbooks.context import RunContext, RunError
from console.playbooks.loading import load_playbook
from console.playbooks.runs import start_run
from console.store import Store

ECHO_SCRIPT = "import json, sys\nprint(json.dumps(sys.argv[1:]))\n"
NOW = datetime(2026, 11, 20, 12, 0, 0)

HOSTILE = [
    "a; rm -rf /tmp/x",
    "x && touch /tmp/pwned",
    "$(id)",
    "`id`",
    "line1\nline2",
    "{{ 7*7 }}",
    "{% for x in range(3) %}x{% endfor %}",
    "{{ ''.__class__.__mro__[1].__subclasses__() }}",
    "' OR 1=1 --",
    "--help",
    "-c",
]


class Clock:
    def __init__(self, start: datetime = NOW) -> None:
        self.now = start

    def __call__(self) -> datetime:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


def write(tmp_path: Path, text: str, name: str = "pb.yaml") -> Path:
    path = tmp_path / name
    path.write_text(textwrap.dedent(text))
    return path


@pytest.fixture
def store(tmp_path: Path):
    with Store.open(tmp_path / "s.duckdb") as s:
        yield s


def ctx_for(store, clock: Clock | None = None, **kw) -> RunContext:
    clock = clock or Clock()
    return RunContext(store=store, actor="alice", clock=clock, sleep=clock.sleep, **kw)


def echo_argv(tmp_path: Path) -> list[str]:
    """A program that prints its arguments as JSON (a script file: no inline code)."""
    script = tmp_path / "echo_args.py"
    script.write_text(ECHO_SCRIPT)
    return [sys.executable, str(script)]


def echo_playbook(tmp_path: Path) -> Path:
    argv = json.dumps(
        [*echo_argv(tmp_path), "{{ inputs.service }}", "{{ inputs.model }}", "--model", "{{ inputs.model }}"]
    )
    return write(
        tmp_path,
        f"""
        id: echo
        title: echo the labels
        variables:
          model: "{{{{ labels.model }}}}"
        steps:
          - id: run
            kind: command
            argv: {argv}
            inputs:
              service: {{type: label, from: "{{{{ labels.service }}}}"}}
              model: {{type: label, from: "{{{{ vars.model }}}}"}}
    """,
    )


def is_plain_label(value: str) -> bool:
    """What the `label` type admits: non-empty, no leading '-', no control characters."""
    import unicodedata

    return (
        bool(value)
        and not value.startswith("-")
        and len(value) <= 4096
        and not any(unicodedata.category(c) in ("Cc", "Cf", "Cs", "Zl", "Zp") for c in value)
    )


def run_echo(store, tmp_path: Path, labels: dict[str, str]) -> tuple[list[str], object]:
    playbook = load_playbook(echo_playbook(tmp_path))
    runner = start_run(ctx_for(store), playbook, alert={"name": "X", "labels": labels})
    preview = runner.preview()
    outcome = runner.advance(confirm=True)
    return preview.argv, outcome


@pytest.mark.parametrize("value", HOSTILE)
def test_hostile_label_values_reach_the_command_as_one_literal_argument(store, tmp_path, value):
    shown, outcome = run_echo(store, tmp_path, {"service": value, "model": value})
    if not is_plain_label(value):  # an option or a newline: refused
        assert outcome.outcome == "failed" and "the step does not run" in outcome.error
        assert "stdout" not in outcome.output and shown is None
        return
    assert outcome.outcome == "passed", outcome.error
    received = json.loads(outcome.output["stdout"])
    assert received == [value, value, "--model", value]  # not split, not re-rendered
    assert shown[-4:] == received  # the preview is what ran


def test_sandbox_escape_in_a_playbook_template_fails_to_render_clearly(store, tmp_path):
    path = write(
        tmp_path,
        """
        id: escape
        title: tries to leave the sandbox
        steps:
          - id: run
            kind: command
            argv: [echo, "{{ inputs.escape }}"]
            inputs:
              escape: {type: label, from: "{{ ''.__class__.__mro__[1].__subclasses__() }}"}
    """,
    )
    runner = start_run(ctx_for(store), load_playbook(path), alert=None)
    preview = runner.preview()
    assert preview.error and "cannot render" in preview.error and "__class__" in preview.error
    outcome = runner.advance(confirm=True)
    assert outcome.outcome == "failed" and "unsafe" in outcome.error
    assert "stdout" not in outcome.output  # nothing ran


def test_variables_are_fixed_when_the_run_starts_and_mutation_is_refused(store, tmp_path):
    path = write(
        tmp_path,
        """
        id: fixed
        title: variables
        variables:
          model: "{{ labels.model }}"
          grow: "{{ labels.update({'model': 'evil'}) }}"
        steps:
          - id: one
            kind: instruction
    """,
    )
    with pytest.raises(RunError, match=r"variables.grow"):
        start_run(ctx_for(store), load_playbook(path), alert={"name": "A", "labels": {"model": "m"}})


def test_query_step_binds_label_values_as_parameters_and_checks_expectation(store, tmp_path):
    with store.transaction() as cur:
        cur.execute(
            "INSERT INTO changes VALUES (?, 'alias_move', ?, '3', 'bob', '{}', 'test')",
            [NOW - timedelta(minutes=5), "fraud-detector"],
        )
    path = write(
        tmp_path,
        """
        id: q
        title: query
        variables: {model: "{{ labels.model }}"}
        steps:
          - id: changes
            kind: query
            sql: SELECT count(*) FROM changes WHERE model = ?
            params: ["{{ vars.model }}"]
            expect: {op: ">", value: 0}
          - id: guard
            kind: query
            sql: DELETE FROM changes
    """,
    )
    ctx = ctx_for(store)
    runner = start_run(ctx, load_playbook(path), alert={"name": "A", "labels": {"model": "fraud-detector"}})
    first = runner.advance()
    assert first.outcome == "passed" and first.output["rows"] == [[1]]
    hostile = start_run(ctx, load_playbook(path), alert={"name": "A", "labels": {"model": "x' OR '1'='1"}})
    assert hostile.advance().outcome == "failed"  # bound, so no row matches
    second = runner.advance()
    assert second.outcome == "failed" and "exactly one SELECT" in second.error
    assert store.count("changes") == 1


def test_decision_branches_and_wait_for_polls_with_an_injected_clock(store, tmp_path):
    path = write(
        tmp_path,
        """
        id: d
        title: decide then wait
        steps:
          - id: ask
            kind: decision
            question: Roll back?
            answers: {"yes": wait, "no": stop}
          - id: wait
            kind: wait_for
            sql: SELECT count(*) FROM changes
            expect: {op: ">=", value: 2}
            every: 30s
            timeout: 5m
            on_fail: stop
          - id: done
            kind: instruction
            next: end
          - id: stop
            kind: instruction
    """,
    )
    clock = Clock()
    polls = []

    def sleep(seconds: float) -> None:
        clock.sleep(seconds)
        polls.append(seconds)
        with store.transaction() as cur:
            cur.execute("INSERT INTO changes VALUES (?, 'deploy', 'm', '1', 'ci', '{}', 't')", [clock()])

    ctx = RunContext(store=store, actor="alice", clock=clock, sleep=sleep)
    runner = start_run(ctx, load_playbook(path))
    with pytest.raises(RunError, match="answer one of yes, no"):
        runner.advance()
    assert runner.advance(answer="yes").next_step == "wait"
    waited = runner.advance()
    assert waited.outcome == "passed" and polls == [30.0, 30.0]
    assert runner.advance().outcome == "done" and runner.status == "done"
    # a condition that never holds times out into on_fail
    never = start_run(ctx_for(store, clock), load_playbook(path))
    never.advance(answer="yes")
    never.playbook.steps[1].expect.value = 10**6
    timed_out = never.advance()
    assert timed_out.outcome == "timeout" and timed_out.next_step == "stop"


def test_outcomes_go_to_timeline_and_audit_with_the_actor(store, tmp_path):
    incident = incidents.declare(store, "latency", now=NOW, actor="alice")
    playbook = load_playbook(echo_playbook(tmp_path))
    runner = start_run(
        ctx_for(store),
        playbook,
        incident=incident,
        alert={"name": "A", "labels": {"service": "s", "model": "m"}},
    )
    runner.advance(confirm=True)
    kinds = [(e.kind, e.actor) for e in incidents.timeline(store, incident.id)]
    assert ("playbook", "alice") in kinds and ("step", "alice") in kinds
    audit = store.query(
        "SELECT actor, on_behalf_of, action, phase, params FROM audit WHERE action = 'playbook.command'"
    )[1]
    me = pwd.getpwuid(os.getuid()).pw_name  # the OS account; "alice" is a claim
    assert audit[0][:4] == (me, "alice", "playbook.command", "after")
    assert json.loads(audit[0][4])["argv"][-4:] == ["s", "m", "--model", "m"]


def test_configured_secrets_are_redacted_from_output_and_audit(store, tmp_path, monkeypatch):
    monkeypatch.setenv("ONCALL_TEST_TOKEN", "s3cr3t-value")
    argv = json.dumps([*echo_argv(tmp_path), "--token", "{{ inputs.token }}"])
    path = write(
        tmp_path,
        f"""
        id: secret
        title: secret
        redact_env: [ONCALL_TEST_TOKEN]
        steps:
          - id: run
            kind: command
            argv: {argv}
            inputs:
              token: {{type: label, from: "{{{{ labels.token }}}}"}}
    """,
    )
    runner = start_run(
        ctx_for(store), load_playbook(path), alert={"name": "A", "labels": {"token": "s3cr3t-value"}}
    )
    assert runner.preview().argv[-1] == "***"
    outcome = runner.advance(confirm=True)
    assert "s3cr3t" not in outcome.output["stdout"] and "***" in outcome.output["stdout"]
    dump = json.dumps(store.query("SELECT params, result FROM audit")[1])
    assert "s3cr3t" not in dump


def test_commands_need_confirmation_and_never_use_a_shell(store, tmp_path):
    path = write(
        tmp_path,
        """
        id: shell
        title: shell words are not a shell
        steps:
          - id: run
            kind: command
            argv: ["echo hi; touch pwned"]
    """,
    )
    runner = start_run(ctx_for(store), load_playbook(path))
    with pytest.raises(RunError, match="confirm"):
        runner.advance()
    outcome = runner.advance(confirm=True)
    assert outcome.outcome == "failed" and "could not start" in outcome.error
    assert runner.status == "failed" and runner.current().id == "run"
    assert not (tmp_path / "pwned").exists()


def test_missing_action_kind_reports_not_available(store, tmp_path):
    from console.playbooks.kinds import ACTION_KINDS

    path = write(
        tmp_path,
        """
        id: act
        title: act
        steps:
          - id: roll
            kind: action
            action: rollback
            args: {model: fraud-detector}
            reason: test
    """,
    )
    runner = start_run(ctx_for(store), load_playbook(path))
    outcome = runner.advance(confirm=True)
    assert outcome.outcome == "failed"
    assert "no model registry configured" in outcome.error
    assert "rollback" in ACTION_KINDS and "silence" in ACTION_KINDS


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    value=st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=40)
    | st.sampled_from(HOSTILE)
)
def test_fuzzed_label_values_stay_one_literal_argument(tmp_path_factory, value):
    tmp = tmp_path_factory.mktemp("fuzz")
    with Store.open(tmp / "s.duckdb") as store:
        _shown, outcome = run_echo(store, tmp, {"service": value, "model": value})
    if not is_plain_label(value):
        assert outcome.outcome == "failed" and "the step does not run" in outcome.error
        return
    assert outcome.outcome == "passed", outcome.error
    assert json.loads(outcome.output["stdout"]) == [value, value, "--model", value]
