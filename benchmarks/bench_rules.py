"""One evaluation cycle of 500 alert rules, batched, next to the same rules run as independent
queries in the same run (target: ≤ 1 s per batched cycle).

The store holds 30 days × 1,000 series at 1-minute resolution (43.2 M samples), built once
with DuckDB and kept at --store for later runs.

    .venv/bin/python benchmarks/bench_rules.py [--store PATH] [--rules 500] [--cycles 3] [--compact]

With --compact, the store is compacted first (`oncall compact`: 29 closed days compacted).

With --promql, 500 PromQL rules instead, next to a real Prometheus answering the same rules
over the same samples (benchmarks/promql_run.py; the TSDB is backfilled once, beside --store).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from datetime import datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from console.alerts.state import AlertEngine
from console.rules.evaluation import evaluate
from console.rules.model import Rule, Threshold
from console.store import Store

END = datetime(2026, 11, 20, 12, 0)
DAYS = 30
METRICS = [f"svc_requests_{i}_total" for i in range(5)] + [f"svc_latency_{i}_seconds" for i in range(5)]


def build(path: Path) -> None:
    """1,000 series (10 metrics × 10 services × 10 instances), one sample a minute for 30 days."""
    with Store.open(path) as store:
        if store.count("samples"):
            return
        print(f"building {path} (30 days × 1,000 series at 1 minute) …", flush=True)
        started = time.perf_counter()
        with store.transaction() as cur:
            cur.execute(
                """
                INSERT INTO series (id, name, labels, key)
                SELECT row_number() OVER (), m.name,
                       '{"instance":"i' || i || '","service":"s' || s || '"}',
                       m.name || '{"instance":"i' || i || '","service":"s' || s || '"}'
                FROM (SELECT unnest(?) AS name) m, range(10) a(s), range(10) b(i)
            """,
                [METRICS],
            )
            cur.execute(f"""
                INSERT INTO sample_rows (series_id, ts, value)
                SELECT s.id, TIMESTAMP '{END - timedelta(days=DAYS)}' + to_minutes(t.m + 1),
                       CASE WHEN s.name LIKE '%_total'
                            THEN (t.m + 1) * (1 + s.id % 7) + (hash(s.id, t.m) % 3)
                            ELSE 0.05 + (hash(s.id, t.m) % 1000) / 2000.0 END
                FROM range({DAYS * 1440}) t(m), series s
                ORDER BY t.m, s.id
            """)
        print(f"built in {time.perf_counter() - started:.0f}s", flush=True)


def make_rules(count: int) -> list[Rule]:
    """A mix of threshold and SQL-helper rules over the metrics, windows and groupings."""
    rules: list[Rule] = []
    windows = ["5m", "15m", "1h"]
    for i in range(count):
        metric = METRICS[i % len(METRICS)]
        window = windows[(i // len(METRICS)) % len(windows)]
        service = f"s{i % 10}"
        if metric.endswith("_total"):
            fn = ("rate", "increase")[i % 2]
            by = [None, ["service"], ["instance"]][i % 3]
            selector = f'{metric}{{service=~"s[0-{i % 10}]"}}'
            limit = 5 + i % 4
        else:
            fn = ("avg", "max", "quantile", "min")[i % 4]
            by = [["service"], None, []][i % 3]
            selector = f'{metric}{{service="{service}"}}'
            limit = 0.4 + (i % 10) / 100
        if i % 5 == 4:
            by_arg = "" if by is None else f", by={by!r}"
            q = ", q=0.9" if fn == "quantile" else ""
            expr = f"SELECT * FROM {{{{ {fn}('{selector}', '{window}'{by_arg}{q}) }}}} WHERE value > {limit}"
            rules.append(
                Rule(
                    f"Sql{i}",
                    expr,
                    group=f"g{i % 20}",
                    for_=timedelta(minutes=5),
                    labels={"severity": "ticket"},
                )
            )
        else:
            rules.append(
                Rule(
                    f"Threshold{i}",
                    Threshold(
                        selector, fn, _minutes(window), ">", limit, by, 0.9 if fn == "quantile" else None
                    ),
                    group=f"g{i % 20}",
                    for_=timedelta(minutes=5),
                    labels={"severity": "page"},
                    annotations={"summary": "{{ $labels.service }} at {{ $value }}"},
                )
            )
    return rules


def _minutes(text: str) -> timedelta:
    return timedelta(minutes=int(text[:-1]) * (60 if text.endswith("h") else 1))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--store", help="store file to build once and reuse")
    parser.add_argument("--rules", type=int, default=500)
    parser.add_argument("--cycles", type=int, default=3)
    parser.add_argument("--promql", action="store_true", help="only the PromQL run against a real Prometheus")
    parser.add_argument("--compact", action="store_true", help="compact the store before the cycles")
    args = parser.parse_args()
    path = Path(args.store) if args.store else Path(tempfile.mkdtemp()) / "bench_rules.duckdb"
    build(path)
    if args.compact:
        from console.store.compact import compact

        with Store.open(path) as store:
            begun, result = time.perf_counter(), compact(store, END)
            print(
                f"compacted in {time.perf_counter() - begun:.1f} s: {result.bytes_before / 1e6:.0f} MB -> "
                f"{result.bytes_after / 1e6:.0f} MB, {result.bytes_after / result.samples:.2f} B/sample"
            )
    if args.promql:
        from benchmarks.promql_run import run

        run(path, METRICS, END, args.rules, args.cycles)
        return
    rules = make_rules(args.rules)
    with Store.open(path) as store:
        engine = AlertEngine(store, rules)
        evaluate(store, rules[:20], END)  # warm up
        batched = []
        for cycle in range(args.cycles):
            report = engine.run(END + timedelta(minutes=cycle))
            batched.append(report.seconds)
            assert not report.broken, report.broken
        firing = sum(a.state != "inactive" for a in report.alerts)
        started = time.perf_counter()
        independent = evaluate(store, rules, END, batched=False)
        single = time.perf_counter() - started
        assert not any(r.error for r in independent)
        same = evaluate(store, rules, END)
        mismatched = sum(
            sorted((tuple(sorted(i.labels.items())), round(i.value or 0, 6)) for i in a.instances)
            != sorted((tuple(sorted(i.labels.items())), round(i.value or 0, 6)) for i in b.instances)
            for a, b in zip(same, independent)
        )
    best = min(batched)
    print(
        f"{len(rules)} rules over {DAYS} days × 1,000 series at 1 minute "
        f"({DAYS * 1440 * 1000 / 1e6:.1f} M samples); {firing} alerts active"
    )
    print(
        f"  batched cycle (engine.run: evaluate, state machine, save)  "
        f"{best:7.3f} s  (cycles: {', '.join(f'{s:.3f}' for s in batched)})"
    )
    print(f"  baseline: the same rules as independent queries (evaluate only) {single:7.3f} s")
    print(
        f"  ratio  {single / best:.1f}× faster; target ≤ 1 s per cycle: "
        f"{'met' if best <= 1.0 else 'NOT met'}; results identical: "
        f"{'yes' if not mismatched else f'no ({mismatched} rules differ)'}"
    )


if __name__ == "__main__":
    main()
