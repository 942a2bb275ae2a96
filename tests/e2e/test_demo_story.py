"""`oncall demo` at its default speed tells the story README promises (issue 17, item 2):
CI deploys version 4 seconds in, it degrades a minute later, the latency SLO pages within
about two minutes of that, the incident ranks the deploy first, the shipped playbook rolls
back from another terminal, the service heals and the page resolves.

It runs `--canary off` (the demo before canaries: CI deploys v4 as champion, so the page
comes; the default canary scenario is tests/e2e/test_demo_canary.py).

It runs in real time (about eight minutes); the times asserted are simulated times, which at
speed 1 follow the clock.  Each figure is printed so a run shows what it measured.
"""

from __future__ import annotations

import subprocess
import threading
from datetime import timedelta
from pathlib import Path

from tests.e2e.test_demo_closed_loop import PAGE_LATENCY, START, Demo, ts

SERVING = r"^(\S+ \S+) serving +demo serves version {} \({}\)"


def test_the_demo_pages_in_two_minutes_and_the_playbook_heals_it(tmp_path: Path, oncall) -> None:
    root = tmp_path / "demo"
    demo = Demo(root, "--canary", "off")  # default speed; v4 deployed as champion, no canary
    start = ts(START[:19].replace("T", " "))
    playbook: dict[str, subprocess.CompletedProcess[str]] = {}
    try:
        deployed = ts(demo.wait_for(SERVING.format(4, "healthy"))[1])
        degraded = ts(demo.wait_for(SERVING.format(4, "DEGRADED"))[1])
        fired = demo.wait_for(PAGE_LATENCY, timeout=300)
        assert fired[2] == "firing"
        paged = ts(fired[1])
        demo.wait_for(r"incident 1 declared: SLOErrorBudgetBurn: fraud-scoring-latency")
        print(f"\ndeploy +{deployed - start}, burn +{degraded - start}, page +{paged - start}")
        assert deployed - start <= timedelta(seconds=30)
        assert timedelta(0) < degraded - deployed <= timedelta(minutes=2)
        assert timedelta(0) < paged - degraded <= timedelta(minutes=2, seconds=30)

        # The on-call engineer runs the shipped playbook from another terminal, taking the
        # default (honest) answers: it queries, decides, rolls back, waits, marks mitigated.
        def run_playbook() -> None:
            playbook["result"] = oncall(
                "-w",
                str(root),
                "playbook",
                "run",
                "latency-regression-after-deploy",
                "--incident",
                "1",
                "--yes",
                "--confirm-name",
                "fraud-detector",
                timeout=900,
            )

        runner = threading.Thread(target=run_playbook)
        runner.start()
        healed = ts(demo.wait_for(SERVING.format(3, "healthy"), timeout=300)[1])
        resolved = demo.wait_for(PAGE_LATENCY, timeout=600)
        assert resolved[2] == "resolved"
        runner.join(600)
        print(f"rollback (serving v3) +{healed - start}, page resolved +{ts(resolved[1]) - start}")
        assert healed - paged <= timedelta(minutes=2)
        assert ts(resolved[1]) - healed <= timedelta(minutes=6)
    finally:
        assert demo.stop() == 0

    result = playbook["result"]
    assert result.returncode == 0, result.stdout + result.stderr
    assert "ran this command there" in result.stderr  # the demo owns the store
    assert "champion v4 → v3" in result.stdout
    export = oncall("-w", str(root), "incident", "export", "1")
    assert export.returncode == 0, export.stderr
    changed = export.stdout.split("## What changed")[1].split("##")[0]
    first = next(line for line in changed.splitlines() if line.startswith("1. "))
    assert "alias_move fraud-detector v3 → v4 by ci-deployer" in first, changed
    decisions = export.stdout.split("## Decisions")[1].split("##")[0]
    assert '"yes"' in decisions or "yes" in decisions.lower(), decisions
    listing = oncall("-w", str(root), "incident", "list", "--format", "json")
    assert listing.returncode == 0, listing.stderr
    assert '"status": "mitigated"' in listing.stdout, listing.stdout  # the playbook's last step
