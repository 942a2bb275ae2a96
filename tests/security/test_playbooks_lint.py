"""`oncall playbook lint` rejects templated values where they become code or a program, and the
runner re-checks at run time, so a playbook changed after lint still does not run."""

from __future__ import annotations

import json
import os
import pwd
import textwrap
from datetime import datetime
from pathlib import Path

import pytest

from console.incidents import lifecycle as incidents
from console.playbooks.checking import lint_paths
from console.playbooks.context import RunContext, StepRefused
from console.playbooks.loading import SHIPPED_DIR, load_playbook
from console.playbooks.runs import resume_run, start_run
from console.store import Store

NOW = datetime(2026, 11, 20, 12, 0, 0)
V = "{{ inputs.payload }}"

# argv (the templated value last) that lint must reject, one per inline-interpreter form
INLINE = {
    "sh -c": ["sh", "-c", V],
    "bash -c": ["bash", "-c", V],
    "zsh -c": ["zsh", "-c", V],
    "dash -c": ["dash", "-c", V],
    "ksh -c": ["ksh", "-c", V],
    "bash -ec": ["bash", "-ec", V],
    "bash -o pipefail -c": ["bash", "-o", "pipefail", "-c", V],
    "sh -c code arg": ["sh", "-c", 'echo "$1"', "sh", V],
    "/bin/sh -c": ["/bin/sh", "-c", V],
    "/usr/bin/bash -c": ["/usr/bin/bash", "-c", V],
    "python -c": ["python", "-c", V],
    "python3 -c": ["python3", "-c", V],
    "/usr/bin/python3.11 -c": ["/usr/bin/python3.11", "-c", V],
    "python3 -c code arg": ["python3", "-c", "import sys; exec(sys.argv[1])", V],
    "perl -e": ["perl", "-e", V],
    "perl -E": ["perl", "-E", V],
    "perl -ne": ["perl", "-ne", V],
    "ruby -e": ["ruby", "-e", V],
    "node -e": ["node", "-e", V],
    "node --eval": ["node", "--eval", V],
    "env sh -c": ["env", "sh", "-c", V],
    "env -i A=b bash -c": ["env", "-i", "A=b", "bash", "-c", V],
    "env -S": ["env", "-S", V],
    "xargs": ["xargs", "echo", V],
    "xargs sh -c": ["xargs", "sh", "-c", V],
    "ssh HOST CMD": ["ssh", "db1", V],
    "ssh -p 22 HOST ls": ["ssh", "-p", "22", "db1", "ls", V],
    "ssh -o": ["ssh", "-o", V, "db1", "uptime"],
    "kubectl exec -- sh -c": ["kubectl", "exec", "pod", "--", "sh", "-c", V],
    "kubectl -n ns exec -it pod -c c -- bash -c": [
        "kubectl",
        "-n",
        "ns",
        "exec",
        "-it",
        "pod",
        "-c",
        "c",
        "--",
        "bash",
        "-c",
        V,
    ],
    "docker exec sh -c": ["docker", "exec", "-i", "ctr", "sh", "-c", V],
    "sudo sh -c": ["sudo", "sh", "-c", V],
    "sudo -u root bash -c": ["sudo", "-u", "root", "bash", "-c", V],
    "sudo -s": ["sudo", "-s", V],
    "nice -n 5 sh -c": ["nice", "-n", "5", "sh", "-c", V],
    "timeout 5 sh -c": ["timeout", "5", "sh", "-c", V],
    "sudo timeout 5s /bin/bash -c": ["sudo", "timeout", "5s", "/bin/bash", "-c", V],
    "unknown-wrapper sh -c": ["with-lock", "sh", "-c", V],
    "watch": ["watch", V],
    "bash SCRIPT": ["bash", V],
    "python3 SCRIPT": ["python3", V],
    "python3 -m MODULE": ["python3", "-m", V],
    "awk PROGRAM": ["awk", V],
    "sed SCRIPT": ["sed", V],
    "git -c": ["git", "-c", V, "status"],
    "curl -K": ["curl", "-K", V],
    "templated program": [V, "status"],
    "sudo templated program": ["sudo", V],
    "env templated program": ["env", V],
}


def playbook_text(argv: list[str], type_: str = "label") -> str:
    return textwrap.dedent(f"""\
        id: p
        title: p
        steps:
          - id: note
            kind: instruction
          - id: run
            kind: command
            argv: {json.dumps(argv)}
            inputs:
              payload: {{type: {type_}, from: "{{{{ labels.payload }}}}"}}
        """)


def ctx(store: Store) -> RunContext:
    return RunContext(store=store, actor="alice", clock=lambda: NOW, sleep=lambda s: None)


@pytest.mark.parametrize("form", sorted(INLINE))
def test_lint_rejects_each_inline_interpreter_form(tmp_path: Path, form: str) -> None:
    path = tmp_path / "p.yaml"
    path.write_text(playbook_text(INLINE[form]))
    files, problems = lint_paths([path])
    assert files == 1 and len(problems) == 1, [str(p) for p in problems]
    text = str(problems[0])
    assert text.startswith(f"{path}:8: steps[1].argv[") and "templated value" in text, text
    assert ": " in text.split("templated value", 1)[1], "says what to do"


@pytest.mark.parametrize(
    "argv",
    [
        ["curl", "--proto", "=http,https", "--", V],
        ["python3", "check.py", "--target", V],
        ["kubectl", "get", "pod", V],
        ["sh", "collect.sh", V],
        ["ssh", V, "uptime"],
        ["sudo", "-u", "svc", "systemctl", "status", V],
    ],
)
def test_lint_accepts_a_typed_value_passed_as_data(tmp_path: Path, argv: list[str]) -> None:
    path = tmp_path / "p.yaml"
    path.write_text(playbook_text(argv))
    assert lint_paths([path])[1] == []


def test_lint_rejects_untyped_templated_arguments_one_line_each(oncall, tmp_path: Path) -> None:
    path = tmp_path / "p.yaml"
    path.write_text(
        textwrap.dedent("""\
        id: p
        title: p
        steps:
          - id: run
            kind: command
            argv: [curl, "{{ annotations.health_url }}",
                   "--data={{ labels.x }}", "{{ inputs.nope }}"]
        """)
    )
    done = oncall("playbook", "lint", str(path), cwd=tmp_path)
    assert done.returncode == 1
    lines = done.stdout.splitlines()
    assert lines[0].startswith(
        f"{path}:6: steps[0].argv[1]: '{{{{ annotations.health_url }}}}' "
        "is templated but not a typed input: make it its own element"
    )
    assert lines[1].startswith(f"{path}:7: steps[0].argv[2]: '--data={{{{ labels.x }}}}' is templated")
    assert lines[2].startswith(
        f"{path}:7: steps[0].argv[3]: uses inputs.nope, which this step does not declare"
    )
    assert lines[3] == "1 playbook file(s), 3 problem(s)"


def test_the_shipped_library_passes_the_new_lint(oncall, tmp_path: Path) -> None:
    done = oncall("playbook", "lint", str(SHIPPED_DIR), cwd=tmp_path)
    assert done.returncode == 0 and "ok" in done.stdout, done.stdout
    probe = load_playbook(SHIPPED_DIR / "upstream-dependency.yaml").step("probe")
    assert probe.argv[:3] == ["curl", "--proto", "=http,https"]
    assert probe.argv[-2:] == ["--", "{{ inputs.health_url }}"]
    assert probe.inputs["health_url"].type == "url"


def test_a_playbook_changed_after_lint_does_not_start(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    path = tmp_path / "p.yaml"
    path.write_text(playbook_text(["echo", V]))
    assert lint_paths([path])[1] == []
    path.write_text(playbook_text(["sh", "-c", V]))  # changed after the lint said ok
    with Store.open(tmp_path / "s.duckdb") as store:
        with pytest.raises(
            StepRefused,
            match=r"p.yaml:6: step run: argv\[2\] puts a templated "
            r"value into `sh -c` inline code",
        ):
            start_run(
                ctx(store), load_playbook(path), alert={"name": "A", "labels": {"payload": "touch pwned"}}
            )
        assert store.count("playbook_runs") == 0
        denied = store.query("SELECT actor, on_behalf_of, action, phase, target FROM audit")[1]
    me = pwd.getpwuid(os.getuid()).pw_name  # the OS account; "alice" is a claim
    assert denied == [(me, "alice", "playbook.start", "denied", "playbook:p")]
    assert not (tmp_path / "pwned").exists()


def test_a_run_whose_playbook_changed_mid_run_refuses_the_step(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    path = tmp_path / "p.yaml"
    path.write_text(playbook_text(["echo", V]))
    with Store.open(tmp_path / "s.duckdb") as store:
        incident = incidents.declare(
            store,
            "x",
            now=NOW,
            actor="alice",
            detail={"alert": {"name": "A", "labels": {"payload": "touch pwned"}}},
        )
        runner = start_run(ctx(store), load_playbook(path), incident=incident)
        assert runner.advance().outcome == "done"  # the instruction
        path.write_text(playbook_text(["sh", "-c", V]))  # the file changes on disk
        resumed = resume_run(ctx(store), {"p": load_playbook(path)}, runner.run_id)
        assert "inline code" in resumed.preview().error
        outcome = resumed.advance(confirm=True)
        assert outcome.outcome == "failed" and "does not run" in outcome.error
        assert resumed.status == "failed" and resumed.current().id == "run"
        phases = store.query("SELECT phase FROM audit WHERE action = 'playbook.command'")[1]
        timeline = [e.text for e in incidents.timeline(store, incident.id)]
    assert phases == [("denied",)]
    assert any("step run (run): failed" in t and "inline code" in t for t in timeline)
    assert not (tmp_path / "pwned").exists()


def test_cli_refuses_a_tampered_playbook_in_one_line(oncall, tmp_path: Path) -> None:
    (tmp_path / "pbs").mkdir()
    (tmp_path / "oncall.yaml").write_text("playbooks: [pbs]\n")
    (tmp_path / "pbs" / "p.yaml").write_text(playbook_text(["bash", "-c", V]))
    with Store.open(tmp_path / "oncall.duckdb") as store:
        incidents.declare(
            store,
            "x",
            now=NOW,
            actor="alice",
            detail={"alert": {"name": "A", "labels": {"payload": "touch pwned"}}},
        )
    done = oncall("playbook", "run", "p", "--incident", "1", "--yes", cwd=tmp_path)
    assert done.returncode == 1
    assert "Traceback" not in done.stderr
    errors = [line for line in done.stderr.splitlines() if line.strip()]
    assert len(errors) == 1 and "playbook p does not start" in errors[0]
    assert f"{tmp_path / 'pbs' / 'p.yaml'}:6: step run: argv[2]" in errors[0]
    assert not (tmp_path / "pwned").exists()
