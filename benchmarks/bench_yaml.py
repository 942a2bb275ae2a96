"""Loading a big rules file with the bounded loader, next to the unbounded one it replaced
(libyaml's composer under the same constructors), measured in the same run.

    .venv/bin/python benchmarks/bench_yaml.py [--rules 2000] [--runs 5]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import yaml

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from console.config.yamlmarks import _loader, load_marked

RULE = """\
      - alert: HighErrorRate{group}_{index}
        expr: {{series: 'errors_total{{code=~"5.."}}', fn: rate, over: 5m, by: [service], op: '>', value: 0.5}}
        for: 2m
        keep_firing_for: 5m
        labels: {{severity: page, team: ml}}
        annotations:
          summary: "{{{{ $labels.service }}}} fails {{{{ $value }}}}/s"
          runbook: https://wiki/fraud
"""


def rules_text(count: int) -> str:
    """`count` rules in groups of 50."""
    parts = ["groups:\n"]
    for group in range(max(1, count // 50)):
        parts.append(f"  - name: g{group}\n    interval: 30s\n    rules:\n")
        parts += [RULE.format(group=group, index=index) for index in range(min(50, count))]
    return "".join(parts)


def best(runs: int, *loads: object) -> list[float]:
    """The fastest of `runs` calls of each load, in seconds, the loads taking turns."""
    times: list[list[float]] = [[] for _ in loads]
    for _ in range(runs):
        for load, taken in zip(loads, times):
            started = time.perf_counter()
            load()  # type: ignore[operator]
            taken.append(time.perf_counter() - started)
    return [min(taken) for taken in times]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rules", type=int, default=2000)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "rules.yaml"
        path.write_text(rules_text(args.rules), encoding="utf-8")
        unbounded, bounded = best(
            args.runs,
            lambda: yaml.load(
                path.read_text(encoding="utf-8"),
                Loader=_loader(str(path)),
            ),
            lambda: load_marked(path),
        )
        print(
            f"{args.rules} rules, {path.stat().st_size / 1e6:.2f} MB: unbounded {unbounded:.3f}s, "
            f"bounded {bounded:.3f}s, ratio {bounded / unbounded:.2f}"
        )


if __name__ == "__main__":
    main()
