"""Hostile label and annotation values against every shipped playbook's command steps.

No templated argv element may start with `-`, carry a non-http(s) URL or a control character,
and nothing a value says may create a file: a value that fails its type stops the step.
"""

from __future__ import annotations

import os
import unicodedata
from datetime import datetime
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from playbooks_hostile import HOSTILE, hostile_values, local_http, other_schemes, referenced_keys

from console.incidents import lifecycle as incidents
from console.playbooks.args import ArgumentRefused, Input, check_value, input_ref
from console.playbooks.context import RenderError, RunContext, StepRefused
from console.playbooks.loading import SHIPPED_DIR, load_library
from console.playbooks.runs import start_run
from console.store import Store

NOW = datetime(2026, 11, 20, 12, 0, 0)
LIBRARY, _ = load_library([SHIPPED_DIR])
WITH_COMMANDS = sorted(pid for pid, p in LIBRARY.items() if any(s.kind == "command" for s in p.steps))
FUZZ = settings(
    max_examples=150,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


@pytest.fixture(scope="module")
def shared(tmp_path_factory):
    """One store and one local HTTP server for the tests that run the probe for real."""
    with Store.open(tmp_path_factory.mktemp("store") / "s.duckdb") as store, local_http() as base:
        yield store, base


def probe(store: Store, health_url: str):
    """Start upstream-dependency-down for an alert with this annotation and run its probe."""
    incident = incidents.declare(
        store,
        "dependency down",
        now=NOW,
        actor="alice",
        detail={
            "alert": {
                "name": "DependencyDown",
                "labels": {"dependency": "feature-store"},
                "annotations": {"health_url": health_url},
            }
        },
    )
    runner = start_run(ctx(store), LIBRARY["upstream-dependency-down"], incident=incident)
    runner.current_step = "probe"
    outcome = runner.advance(confirm=True)
    audit = store.query(
        "SELECT phase FROM audit WHERE action = 'playbook.command' AND json_extract(params, '$.run') = ?",
        [runner.run_id],
    )[1]
    return runner, outcome, audit


def ctx(store: Store) -> RunContext:
    return RunContext(store=store, actor="alice", clock=lambda: NOW, sleep=lambda s: None)


def assert_safe_element(value: str, spec: Input) -> None:
    """What a typed value that reached argv must never be."""
    assert not value.startswith("-"), value
    assert other_schemes(value) == [], value
    assert not any(unicodedata.category(c) in ("Cc", "Cf", "Zl", "Zp") for c in value), value
    if spec.type == "url":
        parts = urlsplit(value)
        assert parts.scheme.lower() in ("http", "https") and "@" not in parts.netloc, value


def test_the_shipped_library_has_command_steps_to_fuzz() -> None:
    assert "upstream-dependency-down" in WITH_COMMANDS


@pytest.mark.parametrize("playbook_id", WITH_COMMANDS)
def test_hostile_values_never_become_options_protocols_or_code(tmp_path: Path, playbook_id: str) -> None:
    playbook = LIBRARY[playbook_id]
    label_keys = sorted(referenced_keys(playbook, "labels"))
    annotation_keys = sorted(referenced_keys(playbook, "annotations"))
    commands = [s for s in playbook.steps if s.kind == "command"]
    seen = {"refused": 0, "built": 0}
    with Store.open(tmp_path / "s.duckdb") as store:

        @FUZZ
        @given(
            labels=st.fixed_dictionaries({k: hostile_values() for k in label_keys}),
            annotations=st.fixed_dictionaries({k: hostile_values() for k in annotation_keys}),
        )
        def check(labels: dict[str, str], annotations: dict[str, str]) -> None:
            runner = start_run(
                ctx(store), playbook, alert={"name": "X", "labels": labels, "annotations": annotations}
            )
            for step in commands:
                try:
                    argv = runner.command_argv(step)
                except (StepRefused, RenderError) as exc:
                    assert "the step does not run" in str(exc) or "cannot render" in str(exc)
                    seen["refused"] += 1
                    continue
                seen["built"] += 1
                assert len(argv) == len(step.argv or [])  # each value stays one element
                for template, value in zip(step.argv or [], argv):
                    name = input_ref(template)
                    if name is not None:
                        assert_safe_element(value, step.inputs[name])
                    else:
                        assert value == template  # literals are never rendered

        check()
    assert seen["refused"] > 0 and seen["built"] > 0, seen


@pytest.mark.parametrize("value", HOSTILE)
def test_hostile_annotation_runs_the_real_probe_safely(
    tmp_path: Path, monkeypatch, shared, value: str
) -> None:
    """The shipped probe, run for real with curl: refused values run nothing, no file appears."""
    monkeypatch.chdir(tmp_path)
    (tmp_path / "some").mkdir()
    (tmp_path / "some" / "file").write_text('output = "pwned"\nurl = "file:///etc/hostname"\n')
    before = sorted(os.listdir(tmp_path))
    hostname = Path("/etc/hostname").read_text().strip() if Path("/etc/hostname").exists() else None
    runner, outcome, audit = probe(shared[0], value)
    assert sorted(os.listdir(tmp_path)) == before, "a file appeared"
    if "stdout" in outcome.output:  # curl ran: only with an http(s) URL after `--`
        assert outcome.output["argv"][-2:] == ["--", value]
        assert not hostname or hostname not in outcome.output["stdout"]
    else:
        assert outcome.outcome == "failed" and "the step does not run" in outcome.error
        assert audit == [("denied",)]
        assert runner.status == "failed" and runner.current_step == "probe"  # stops here


def test_a_good_url_is_probed_for_real(tmp_path: Path, monkeypatch, shared) -> None:
    monkeypatch.chdir(tmp_path)
    store, base = shared
    _runner, outcome, audit = probe(store, base + "/-K/some/$(touch${IFS}pwned)`touch${IFS}pwned`")
    assert outcome.outcome == "passed", outcome.error
    assert outcome.output["stdout"] == "ok\n" and audit == [("after",)]
    assert list(tmp_path.iterdir()) == []


def test_fuzzed_local_urls_run_curl_without_side_effects(tmp_path: Path, monkeypatch, shared) -> None:
    """Any value glued to a local URL: curl runs only on a clean http URL, and writes nothing."""
    monkeypatch.chdir(tmp_path)
    store, base = shared
    ran = []

    @FUZZ
    @given(suffix=hostile_values())
    def check(suffix: str) -> None:
        _runner, outcome, audit = probe(store, base + "/" + suffix)
        assert list(tmp_path.iterdir()) == []
        if "stdout" in outcome.output:
            ran.append(suffix)
            assert_safe_element(outcome.output["argv"][-1], Input(type="url", **{"from": "x"}))
            assert outcome.outcome == "passed" and outcome.output["stdout"] == "ok\n"
        else:
            assert "the step does not run" in (outcome.error or "") and audit == [("denied",)]

    check()
    assert ran, "no fuzzed URL was clean enough to probe"


@settings(max_examples=400, deadline=None)
@given(value=hostile_values(), kind=st.sampled_from(["url", "label", "int", "duration"]))
def test_every_accepted_value_is_safe_for_its_type(value: str, kind: str) -> None:
    spec = Input(type=kind, **{"from": "x"})
    try:
        accepted = check_value(spec, value)
    except ArgumentRefused as exc:
        assert "\x1b" not in str(exc) and "\n" not in str(exc)  # the error is one clean line
        return
    assert accepted == value
    assert_safe_element(accepted, spec)
