"""`oncall demo` as it ships (issue #20, item 5): v4 arrives as a canary on a fifth of the
traffic, the console's continuous judgement fails it and rolls the canary back before the
latency SLO pages; with `--canary dry-run` the rollback is only planned, the SLO pages, and the
canary's analysis is on the incident's screen.

Speed 30 for the default: a tick of the loaded test machine may take a second or more, which
at 600× would be ten simulated minutes and could step over the judgement's window (measured at
60×: the fail came 3 min 35 s to 4 min 50 s in, as the machine's load varied; the SLO would page
about 7 min 30 s in)."""

from __future__ import annotations

import re
from pathlib import Path

from console.registry.marks import marks
from console.store import Store
from tests.e2e.test_demo_closed_loop import PAGE_LATENCY, START, Demo, ts

CANARY_FAIL = re.compile(
    r"^(\S+ \S+) canary +canary fraud-v4: fail \S+ \((.*latency_p99 .*→ High.*)\) v4 vs v3"
)
ROLLED_BACK = re.compile(r"^(\S+ \S+) canary +canary fraud-v4: rollback applied: .*canary v4 → v3")
HEARTBEAT = re.compile(r"^(\S+ \S+) heartbeat ")


def test_the_canary_fails_and_is_rolled_back_before_the_slo_pages(tmp_path: Path) -> None:
    root = tmp_path / "demo"
    demo = Demo(root, "--speed", "30")
    start = ts(START[:19].replace("T", " "))
    try:
        failed = demo.wait_for(CANARY_FAIL)
        rolled = ts(demo.wait_for(ROLLED_BACK)[1])
        healed = ts(demo.wait_for(r"^(\S+ \S+) serving +demo serves version 3 \(healthy\)$")[1])
        print(
            f"\ncanary fail +{ts(failed[1]) - start}, rollback +{rolled - start}, v3 only +{healed - start}"
        )
        # watch on until 20 simulated minutes in: the latency SLO never pages
        while ts(demo.wait_for(HEARTBEAT)[1]) - start < (ts("2026-11-20 12:20:00") - start):
            pass
    finally:
        assert demo.stop() == 0
    said = "\n".join(demo.lines)
    assert not [line for line in demo.lines if PAGE_LATENCY.search(line)], said
    assert "demo serves version 3 (healthy), canary 4 (DEGRADED)" in said  # it did misbehave
    assert ts(failed[1]) <= rolled <= healed
    with Store.open(root / "oncall.duckdb") as store:
        [(alias_version,)] = store.query(
            "SELECT version FROM registry_aliases WHERE model = 'fraud-detector' AND alias = 'canary'"
        )[1]
        assert alias_version == "3"
        audit = store.query("SELECT phase, reason FROM audit WHERE action = 'rollback' ORDER BY id")[1]
        assert [phase for phase, _ in audit] == ["before", "after"]
        assert audit[1][1].startswith("canary fraud-v4 failed (analysis #")
        assert "4" in marks(store, "fraud-detector")  # rollback memory: v4 is marked bad


def test_with_the_judge_in_dry_run_the_slo_pages_and_the_incident_shows_the_analysis(
    tmp_path: Path,
) -> None:
    from console.config.workspace import load_workspace
    from console.screens.incident import load_page

    root = tmp_path / "demo"
    demo = Demo(root, "--speed", "600", "--canary", "dry-run")
    try:
        demo.wait_for(CANARY_FAIL)
        demo.wait_for(
            r"canary fraud-v4: rollback dry-run: dry run: would roll back fraud-detector: canary v4 → v3"
        )
        fired = demo.wait_for(PAGE_LATENCY)
        assert fired[2] == "firing"
        declared = demo.wait_for(r"incident (\d+) declared: SLOErrorBudgetBurn: fraud-scoring-latency")
    finally:
        assert demo.stop() == 0
    workspace = load_workspace(root / "oncall.yaml")
    with Store.open(root / "oncall.duckdb") as store:
        [(alias_version,)] = store.query(
            "SELECT version FROM registry_aliases WHERE model = 'fraud-detector' AND alias = 'canary'"
        )[1]
        assert alias_version == "4"  # planned only
        page = load_page(store, [], int(declared[1]), ts(fired[1]), workspace=workspace, with_what=False)
    [line] = page.canaries
    assert line.startswith("canary fraud-v4: fail ")
    assert "latency_p99 +" in line and "increase is bad → High" in line and "v4 vs v3" in line
    assert "rollback dry-run: dry run: would roll back" in line
