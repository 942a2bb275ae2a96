"""The PromQL run of bench_rules.py: 500 PromQL alerting rules over the same 30 days × 1,000
series, one evaluation cycle on the store, next to the same rules answered by a real Prometheus
(Debian's, over a TSDB backfilled from the same samples with promtool) as instant queries, one
after another as its rule manager evaluates a group.  Alert sets must be identical."""

from __future__ import annotations

import math
import shutil
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

import httpx

from console.rules.evaluation import evaluate
from console.rules.model import Rule
from console.rules.promql import parse
from console.store import Store
from tests.servers import backfill, start_prometheus


def promql_rules(metrics: list[str], count: int) -> list[Rule]:
    """A mix alerting rules use: rates and ratios by label, *_over_time, quantiles, max by; no two
    alike (each repetition of the 60 patterns moves its threshold a little)."""
    rules: list[Rule] = []
    windows = ["5m", "15m", "1h"]
    for i in range(count):
        nudge = (i // 60) / 1000
        metric = metrics[i % len(metrics)]
        window = windows[(i // len(metrics)) % len(windows)]
        service = f"s{i % 10}"
        if metric.endswith("_total"):
            kind = i % 4
            sel = f'{metric}{{service=~"s[0-{i % 10}]"}}'
            if kind == 0:
                expr = f"rate({sel}[{window}]) > {5 + i % 4 + nudge:.3f}"
            elif kind == 1:
                expr = f"sum by (service) (increase({sel}[{window}])) > {1000 * (1 + i % 5) + nudge:.3f}"
            elif kind == 2:
                expr = (
                    f'sum by (service) (rate({metric}{{instance=~"i[0-4]"}}[{window}])) '
                    f"/ sum by (service) (rate({metric}[{window}])) > {0.45 + nudge:.3f}"
                )
            else:
                expr = f"max by (instance) (irate({sel}[{window}])) > {6 + i % 3 + nudge:.3f}"
        else:
            sel = f'{metric}{{service="{service}"}}'
            fn = ("avg_over_time", "max_over_time", "quantile_over_time", "min_over_time")[i % 4]
            arg = f"0.9, {sel}[{window}]" if fn == "quantile_over_time" else f"{sel}[{window}]"
            by = ("", "max by (service) ", "avg without (instance) ")[i % 3]
            expr = f"{by}({fn}({arg})) > {0.4 + (i % 10) / 100 + nudge:.3f}"
        rules.append(Rule(f"PromQL{i}", parse(expr), group=f"g{i % 20}", labels={"severity": "page"}))
    return rules


def _openmetrics(store_path: Path, out: Path) -> None:
    """The store's samples as OpenMetrics, written by DuckDB (tens of millions of lines)."""
    with Store.open_read(store_path, snapshot=False) as store:
        cur = store.cursor()
        cur.execute(f"""
            COPY (
                SELECT s.name || '{{' || array_to_string(list_transform(json_keys(s.labels),
                           lambda k: k || '="' || json_extract_string(s.labels, '$.' || k) || '"'), ',')
                       || '}} ' || x.value::VARCHAR || ' ' || (epoch_ms(x.ts) / 1000)::BIGINT::VARCHAR
                FROM samples x JOIN series s ON s.id = x.series_id ORDER BY s.id, x.ts
            ) TO '{out}' (FORMAT csv, HEADER false, QUOTE '', ESCAPE '')
        """)
        cur.close()
    with open(out, "a") as f:
        f.write("# EOF\n")


def tsdb_for(store_path: Path) -> Path:
    """A Prometheus TSDB of the store's samples, built once next to the store."""
    tsdb = store_path.with_suffix(".tsdb")
    if (tsdb / "done").exists():
        return tsdb
    shutil.rmtree(tsdb, ignore_errors=True)
    tsdb.mkdir()
    with tempfile.TemporaryDirectory() as tmp:
        om = Path(tmp) / "samples.om"
        started = time.perf_counter()
        _openmetrics(store_path, om)
        print(
            f"  wrote OpenMetrics ({om.stat().st_size / 1e9:.1f} GB) in {time.perf_counter() - started:.0f}s",
            flush=True,
        )
        started = time.perf_counter()
        backfill(om, tsdb, block="24h", timeout=3600)
        print(f"  backfilled Prometheus's TSDB in {time.perf_counter() - started:.0f}s", flush=True)
    (tsdb / "done").write_text("")
    return tsdb


def _alerts(result: list[dict]) -> dict[tuple, float]:
    return {
        tuple(sorted((k, v) for k, v in r["metric"].items() if k != "__name__")): float(r["value"][1])
        for r in result
    }


def run(store_path: Path, metrics: list[str], end: datetime, count: int, cycles: int) -> None:
    rules = promql_rules(metrics, count)
    tsdb = tsdb_for(store_path)
    with tempfile.TemporaryDirectory() as tmp:
        server = start_prometheus(tsdb, Path(tmp), timeout=600)
        try:
            at = end.replace(tzinfo=UTC).timestamp()
            with httpx.Client(base_url=server.url, timeout=120) as client:
                client.get("/api/v1/query", params={"query": "up", "time": at})  # warm up
                theirs, best_theirs = [], math.inf
                for _ in range(cycles):
                    started = time.perf_counter()
                    answers = [
                        client.get("/api/v1/query", params={"query": r.expr.text, "time": at}).json()  # type: ignore[union-attr]
                        for r in rules
                    ]
                    best_theirs = min(best_theirs, time.perf_counter() - started)
                    theirs = answers
        finally:
            server.stop()
    with Store.open(store_path) as store:
        evaluate(store, rules[:10], end)  # warm up
        best_ours, ours = math.inf, []
        for _ in range(cycles):
            started = time.perf_counter()
            ours = evaluate(store, rules, end)
            best_ours = min(best_ours, time.perf_counter() - started)
    assert all(a["status"] == "success" for a in theirs), next(a for a in theirs if a["status"] != "success")
    errors = [r.error for r in ours if r.error]
    differ = 0
    active = 0
    for answer, result in zip(theirs, ours, strict=True):
        expected = _alerts(answer["data"]["result"])
        got = {tuple(sorted(i.labels.items())): i.value for i in result.instances}
        active += len(expected)
        if sorted(expected) != sorted(got) or not all(
            math.isclose(got[k], v, rel_tol=1e-9, abs_tol=1e-12) for k, v in expected.items()
        ):
            differ += 1
    print(
        f"{len(rules)} PromQL rules, one evaluation cycle at {end:%Y-%m-%d %H:%M}; {active} alert instances"
    )
    print(f"  oncall (one query over the store)             {best_ours:7.3f} s")
    print(f"  baseline: Prometheus 2.42, instant queries    {best_theirs:7.3f} s")
    print(
        f"  ratio  {best_theirs / best_ours:.1f}× faster; target ≥ 5×: "
        f"{'met' if best_theirs / best_ours >= 5 else 'NOT met'}; alert sets identical: "
        f"{'yes' if not differ and not errors else f'no ({differ} rules differ, {len(errors)} errors)'}"
    )
    if errors:
        print(f"  first error: {errors[0]}")
