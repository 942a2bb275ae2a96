"""Evaluation cycles with recording rules, next to the same 500 alerting rules without them
(bench_rules.py's store and rules), measured in the same run.

    .venv/bin/python benchmarks/bench_recording.py [--store PATH] [--recording 50] [--cycles 5]

Scenarios: the alerting rules alone (one batch); plus recording rules that no rule of their
group reads (still one batch, one write); plus as many alerts reading them in their group (two
stages); and, for comparison, the same rules with every group evaluated on its own.
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
from datetime import timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_rules import END, METRICS, build, make_rules

import console.rules.recording as recording
from console.alerts.state import AlertEngine
from console.rules.model import Rule, Threshold
from console.store import Store


def recording_rules(count: int, dependents: bool) -> list[Rule]:
    rules: list[Rule] = []
    for i in range(count):
        metric = METRICS[i % 5]  # the counters
        name = f"svc:{metric}:rate5m_{i}"
        group = f"g{i % 20}"
        expr = Threshold(metric, "rate", timedelta(minutes=5), ">=", 0, ["service"])
        rules.append(Rule(name, expr, group=group, record=name))
        if dependents:
            sql = f"SELECT * FROM {{{{ max('{name}', '1m', by=['service']) }}}} WHERE value > 5"
            rules.append(Rule(f"Uses{i}", sql, group=group))
    return rules


def per_group(rules: list[Rule]) -> list[list[int]]:
    """Every group on its own, in order (what a plain split per group would do)."""
    groups = dict.fromkeys(r.group for r in rules)
    return [[i for i, r in enumerate(rules) if r.group == g] for g in groups]


def cycles(store: Store, rules: list[Rule], count: int, start: int) -> tuple[float, list[float], int]:
    engine = AlertEngine(store, rules)
    times, written = [], 0
    for cycle in range(count):
        # inside the data, so the rates exist; each scenario at its own minutes
        report = engine.run(END - timedelta(minutes=start + count - cycle))
        assert not report.broken, list(report.broken.items())[:2]
        times.append(report.seconds)
        written += sum(report.recorded.values())
    return min(times), times, written


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--store", help="bench_rules.py's store file to build once and reuse")
    parser.add_argument("--recording", type=int, default=50)
    parser.add_argument("--cycles", type=int, default=5)
    args = parser.parse_args()
    path = Path(args.store) if args.store else Path(tempfile.mkdtemp()) / "bench_rules.duckdb"
    build(path)
    copy = Path(tempfile.mkdtemp()) / "bench_recording.duckdb"
    shutil.copy(path, copy)  # recorded series go into a copy
    alerting = make_rules(500)
    scenarios = [
        ("500 alerting rules (baseline)", alerting, None),
        (
            f"+ {args.recording} recording rules no rule reads",
            alerting + recording_rules(args.recording, False),
            None,
        ),
        (
            f"+ {args.recording} recording rules + {args.recording} alerts reading them",
            alerting + recording_rules(args.recording, True),
            None,
        ),
        (
            "  the same, every group evaluated on its own",
            alerting + recording_rules(args.recording, True),
            per_group,
        ),
    ]
    staged = recording.stages
    try:
        with Store.open(copy) as store:
            # bench_rules.py numbers its series without the sequence: move it past them
            store.con.execute("DROP SEQUENCE series_id_seq; CREATE SEQUENCE series_id_seq START 1000000")
            baseline = None
            for k, (label, rules, split) in enumerate(scenarios):
                recording.stages = split or staged  # type: ignore[assignment]
                best, times, written = cycles(store, rules, args.cycles, 10 * (len(scenarios) - k))
                baseline = baseline or best
                print(
                    f"{label:62s} {best:6.3f} s  ×{best / baseline:4.2f}  "
                    f"(cycles {', '.join(f'{t:.3f}' for t in times)}; {written} samples recorded)"
                )
    finally:
        recording.stages = staged
        shutil.rmtree(copy.parent, ignore_errors=True)


if __name__ == "__main__":
    main()
