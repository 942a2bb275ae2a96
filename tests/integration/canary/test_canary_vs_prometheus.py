"""A canary judged through a real Prometheus: two versions' series backfilled with promtool (the
baseline healthy, the canary slower and failing more often), pulled into the store by the
Prometheus collector, judged by `oncall canary run`, and the local registry rolled back.

Each metric's values per version are also checked against Prometheus's own /api/v1/query_range
of the same PromQL: the judge sees what Prometheus would answer."""

from __future__ import annotations

import json
import sys
from datetime import datetime, timedelta
from pathlib import Path

import numpy as np
import pytest

from console.canary.collect import collect
from console.canary.model import load_canary_file
from console.cli.main import main
from console.registry.local import seed_demo_registry
from console.store import Store
from tests.servers import backfill, prometheus_query_range, start_prometheus

pytestmark = pytest.mark.integration

START = datetime(2026, 1, 10)  # first sample
MINUTES = 180
END = START + timedelta(minutes=MINUTES - 1)  # last sample: the canary is judged up to here
STEP = timedelta(minutes=1)
BOUNDS = ("0.1", "0.25", "0.5", "1", "+Inf")
# per version: error probability, and the share of requests under each bound but +Inf
HEALTH = {"3": (0.002, (0.90, 0.99, 0.999, 0.9999)), "4": (0.03, (0.50, 0.80, 0.95, 0.99))}
MODEL = "fraud-detector"

CANARIES = """\
canaries:
  - name: fraud-v4
    model: fraud-detector
    baseline: champion
    canary: canary
    on_fail: rollback
    metrics:
      - name: latency_p99
        query: 'histogram_quantile(0.99, sum by (le, version) (rate(request_duration_seconds_bucket[5m])))'
      - name: error_ratio
        query: >-
          sum by (version) (rate(requests_total{code=~"5.."}[5m]))
          / sum by (version) (rate(requests_total[5m]))
        critical: true
"""


def _epoch(value: datetime) -> int:
    return int((value - datetime(1970, 1, 1)).total_seconds())


def write_openmetrics(path: Path) -> None:
    """Request counters by code and a latency histogram, for versions 3 and 4, one sample a minute."""
    rng = np.random.default_rng(20)
    times = [_epoch(START + STEP * i) for i in range(MINUTES)]
    requests, buckets = {}, {}
    for version, (error_p, shares) in HEALTH.items():
        total = rng.integers(80, 120, MINUTES)
        errors = rng.binomial(total, error_p)
        requests[(version, "200")] = np.cumsum(total - errors)
        requests[(version, "500")] = np.cumsum(errors)
        under = np.zeros(MINUTES, dtype=int)
        for le, share in zip(BOUNDS, (*shares, 1.0)):
            under = np.maximum(under, rng.binomial(total, share)) if le != "+Inf" else total
            buckets[(version, le)] = np.cumsum(under)
    lines = ["# TYPE requests counter"]
    for (version, code), values in requests.items():
        lines += [
            f'requests_total{{code="{code}",version="{version}"}} {v} {t}' for v, t in zip(values, times)
        ]
    lines.append("# TYPE request_duration_seconds histogram")
    for (version, le), values in buckets.items():
        lines += [
            f'request_duration_seconds_bucket{{le="{le}",version="{version}"}} {v} {t}'
            for v, t in zip(values, times)
        ]
    lines.append("# EOF")
    path.write_text("\n".join(lines) + "\n")


@pytest.fixture(scope="module")
def prometheus(tmp_path_factory: pytest.TempPathFactory):
    root = tmp_path_factory.mktemp("canary")
    data = root / "metrics.om"
    write_openmetrics(data)
    server = start_prometheus(backfill(data, root / "tsdb"), root)
    try:
        yield server
    finally:
        server.stop()


def _workspace(root: Path, url: str) -> Path:
    (root / "oncall.yaml").write_text(
        "store: oncall.duckdb\n"
        "allow_actions: true\n"
        "registries: [{name: local, kind: local}]\n"
        "canaries: [canaries.yaml]\n"
        "sources:\n"
        "  - name: prom\n"
        "    kind: prometheus\n"
        f"    url: {url}\n"
        "    step: 1m\n"
        "    lookback: 3h\n"
        "    queries: [requests_total, request_duration_seconds_bucket]\n"
    )
    (root / "canaries.yaml").write_text(CANARIES)
    with Store.open(root / "oncall.duckdb") as store:
        registry = seed_demo_registry(store, now=START)  # champion on v3
        registry.create_version(MODEL, version="4", created_at=START)
        registry.set_alias(MODEL, "canary", "4")
    return root / "oncall.yaml"


def _oncall(ws: Path, *argv: str, monkeypatch, capsys) -> tuple[int, str, str]:
    monkeypatch.setenv("ONCALL_NOW", END.isoformat() + "Z")
    monkeypatch.setenv("ONCALL_ACTOR", "canary-test")
    monkeypatch.setattr(sys.stdin, "isatty", lambda: False)
    try:
        code = main(["-w", str(ws), *argv])
    except SystemExit as exc:
        code = int(exc.code)
    out = capsys.readouterr()
    return code, out.out, out.err


def _prometheus_groups(server, query: str) -> dict[str, np.ndarray]:
    """Prometheus's own answer over the judged window, by version."""
    result = prometheus_query_range(server, query, END - timedelta(hours=1), END, STEP)
    return {s["metric"]["version"]: np.array([float(v) for _, v in s["values"]]) for s in result}


def test_a_slow_failing_canary_is_judged_and_rolled_back(prometheus, tmp_path, monkeypatch, capsys):
    ws = _workspace(tmp_path, prometheus.url)
    code, _, err = _oncall(ws, "collect", "--once", monkeypatch=monkeypatch, capsys=capsys)
    assert code == 0, err

    code, out, err = _oncall(
        ws, "canary", "run", "fraud-v4", "--format", "json", monkeypatch=monkeypatch, capsys=capsys
    )
    assert code == 1, err  # fail
    run = json.loads(out)
    assert (run["verdict"], run["baseline_version"], run["canary_version"]) == ("fail", "3", "4")
    by_name = {m["name"]: m for m in run["metrics"]}
    assert by_name["latency_p99"]["classification"] == "High"
    assert by_name["error_ratio"]["classification"] == "High"
    assert by_name["error_ratio"]["n_baseline"] == by_name["error_ratio"]["n_canary"] == 61
    assert run["rollback"]["state"] == "applied"

    with Store.open_read(tmp_path / "oncall.duckdb") as store:
        aliases = dict(store.query("SELECT alias, version FROM registry_aliases WHERE model = ?", [MODEL])[1])
        marks = store.query("SELECT version FROM version_marks WHERE cleared_at IS NULL")[1]
        reasons = store.query("SELECT phase, reason FROM audit WHERE action = 'rollback' ORDER BY id")[1]
        spec = load_canary_file(tmp_path / "canaries.yaml")[0]
        values, errors = collect(store, spec, "3", "4", END)
    assert aliases == {"champion": "3", "canary": "3"}  # the canary alias is back on the baseline
    assert marks == [("4",)]  # and the canary version is marked bad
    assert [phase for phase, _ in reasons] == ["before", "after"]
    assert reasons[1][1].startswith(f"canary fraud-v4 failed (analysis #{run['analysis_id']})")

    # what was judged is what Prometheus answers for the same PromQL over the same window
    assert errors == {}
    for metric in spec.metrics:
        theirs = _prometheus_groups(prometheus, metric.query)
        baseline, canary = values[metric.name]
        np.testing.assert_allclose(baseline, theirs["3"], rtol=1e-9, atol=0)
        np.testing.assert_allclose(canary, theirs["4"], rtol=1e-9, atol=0)


def test_a_dry_run_against_the_same_data_leaves_the_registry_alone(prometheus, tmp_path, monkeypatch, capsys):
    ws = _workspace(tmp_path, prometheus.url)
    assert _oncall(ws, "collect", "--once", monkeypatch=monkeypatch, capsys=capsys)[0] == 0
    code, out, _ = _oncall(
        ws, "canary", "run", "fraud-v4", "--dry-run", monkeypatch=monkeypatch, capsys=capsys
    )
    assert code == 1
    assert out.splitlines()[-1] == "dry run: would roll back fraud-detector: canary v4 → v3; nothing changed"
    with Store.open_read(tmp_path / "oncall.duckdb") as store:
        assert store.query("SELECT version FROM registry_aliases WHERE alias = 'canary'")[1] == [("4",)]
        assert store.query("SELECT count(*) FROM version_marks")[1] == [(0,)]
