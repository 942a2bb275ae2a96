"""A run killed (SIGKILL) while a wait_for step waits resumes at that step with its history."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

from console.playbooks.context import RunContext
from console.playbooks.loading import load_playbook
from console.playbooks.runs import resume_run
from console.store import Store

PLAYBOOK = """
id: slow
title: wait for a change
steps:
  - id: look
    kind: instruction
  - id: wait
    kind: wait_for
    sql: SELECT count(*) FROM changes
    expect: {op: ">", value: 0}
    every: 1s
    timeout: 1h
  - id: after
    kind: instruction
"""

RUN = textwrap.dedent("""
    import sys, time
    from datetime import datetime
    from console.incidents import lifecycle as incidents
    from console.playbooks.context import RunContext
    from console.playbooks.loading import load_playbook
    from console.playbooks.runs import start_run
    from console.store import Store
    store = Store.open(sys.argv[1])
    clock = lambda: datetime(2026, 11, 20, 12, 0, 0)
    incident = incidents.declare(store, "stuck", now=clock(), actor="alice")
    def sleep(seconds):
        print("waiting", flush=True)
        time.sleep(seconds)
    runner = start_run(RunContext(store, "alice", clock, sleep), load_playbook(sys.argv[2]),
                       incident=incident)
    runner.advance()
    runner.advance()
    print("finished", flush=True)
""")


def test_sigkill_while_waiting_then_resume_at_the_same_step(tmp_path: Path) -> None:
    db, pb = tmp_path / "s.duckdb", tmp_path / "slow.yaml"
    pb.write_text(PLAYBOOK)
    proc = subprocess.Popen([sys.executable, "-c", RUN, str(db), str(pb)], stdout=subprocess.PIPE, text=True)
    assert proc.stdout.readline().strip() == "waiting"
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    assert proc.returncode == -signal.SIGKILL

    with Store.open(db) as store:
        run_id = store.query("SELECT id FROM playbook_runs")[1][0][0]
        from datetime import datetime

        ctx = RunContext(store, "bob", lambda: datetime(2026, 11, 20, 12, 5), lambda s: None)
        runner = resume_run(ctx, {"slow": load_playbook(pb)}, run_id)
        assert runner.status == "running" and runner.current().id == "wait"
        assert [h["step"] for h in runner.history] == ["look"]
        assert runner.history[0]["actor"] == "alice"
        assert "wait" in runner.state["waiting"]  # when the wait began survives too
        with store.transaction() as cur:
            cur.execute("INSERT INTO changes VALUES (now()::TIMESTAMP, 'deploy', 'm', '2', 'ci', '{}', 't')")
        outcome = runner.advance()
        assert outcome.outcome == "passed" and outcome.output["waited_s"] == 300
        assert runner.current().id == "after"
        assert [h["actor"] for h in runner.history] == ["alice", "bob"]
