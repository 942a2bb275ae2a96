"""A real Prometheus over a TSDB backfilled from OpenMetrics, and the same file in an oncall store."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

import numpy as np
import pytest

from console.cli.main import main
from tests.servers import Server, backfill, start_prometheus

START = datetime(2026, 1, 10)  # first sample
DAYS = 4
STEP = timedelta(minutes=1)
INSTANCES = ("a", "b")
BOUNDS = ("0.1", "0.25", "0.5", "+Inf")
RESET_AT = START + timedelta(days=3, hours=6)  # instance b restarts here
ERROR_BURST = (START + timedelta(days=3, hours=9), START + timedelta(days=3, hours=11))
SLOW_SPELL = (START + timedelta(days=3, hours=15), START + timedelta(days=3, hours=18))

SLO_FILE = """\
slos:
  - name: checkout-availability
    service: checkout
    objective: 99.5
    sli:
      ratio:
        bad: 'http_requests_total{code=~"5.."}'
        total: 'http_requests_total'
        by: [instance]
  - name: checkout-latency
    service: checkout
    objective: 99
    sli:
      latency:
        buckets: 'http_request_duration_seconds_bucket'
        threshold: 0.25
"""


def _epoch(value: datetime) -> int:
    return int((value - datetime(1970, 1, 1)).total_seconds())


def write_openmetrics(path: Path) -> None:
    """Counters with a reset and a latency histogram with an incident, as OpenMetrics."""
    rng = np.random.default_rng(7)
    n = int(timedelta(days=DAYS) / STEP)
    times = np.array([_epoch(START + STEP * i) for i in range(n)])
    minute = np.arange(n)
    in_burst = (times > _epoch(ERROR_BURST[0])) & (times <= _epoch(ERROR_BURST[1]))
    in_slow = (times > _epoch(SLOW_SPELL[0])) & (times <= _epoch(SLOW_SPELL[1]))
    reset_index = int((RESET_AT - START) / STEP)
    requests, buckets = {}, {}
    for instance in INSTANCES:
        total = rng.integers(80, 120, n) + (20 * np.sin(minute / 240)).astype(int)
        errors = np.where(in_burst, total // 5, rng.binomial(total, 0.001))
        fast_share = np.where(in_slow, 0.7, 0.997)
        under_01 = rng.binomial(total, np.where(in_slow, 0.4, 0.9))
        under_025 = np.maximum(under_01, rng.binomial(total, fast_share))
        under_05 = np.maximum(under_025, rng.binomial(total, 0.999))
        per_bucket = {"0.1": under_01, "0.25": under_025, "0.5": under_05, "+Inf": total}

        def cumulative(increments: np.ndarray, instance: str = instance) -> np.ndarray:
            values = np.cumsum(increments) + 1000
            if instance == "b":  # the process restarts: counters start over
                values[reset_index:] = np.cumsum(increments[reset_index:])
            return values

        requests[(instance, "200")] = cumulative(total - errors)
        requests[(instance, "500")] = cumulative(errors)
        for le, counts in per_bucket.items():
            buckets[(instance, le)] = cumulative(counts)
    lines = ["# TYPE http_requests counter"]
    for (instance, code), values in requests.items():
        lines += [
            f'http_requests_total{{code="{code}",instance="{instance}"}} {v} {t}'
            for v, t in zip(values.tolist(), times.tolist())
        ]
    lines.append("# TYPE http_request_duration_seconds histogram")
    for (instance, le), values in buckets.items():
        lines += [
            f'http_request_duration_seconds_bucket{{instance="{instance}",le="{le}"}} {v} {t}'
            for v, t in zip(values.tolist(), times.tolist())
        ]
    lines.append("# EOF")
    path.write_text("\n".join(lines) + "\n")


@dataclass
class Fixture:
    prometheus: Server
    workspace: Path
    data: Path


def oncall(*argv: str) -> int:
    return main(list(argv))


@pytest.fixture(scope="module")
def backfilled(tmp_path_factory: pytest.TempPathFactory):
    """One Prometheus per module over the backfilled TSDB; the same file imported into oncall."""
    root = tmp_path_factory.mktemp("slo")
    data = root / "metrics.om"
    write_openmetrics(data)
    server = start_prometheus(backfill(data, root / "tsdb"), root)
    workspace = root / "ws"
    workspace.mkdir()
    (workspace / "oncall.yaml").write_text("store: oncall.duckdb\nslos: [slos.yaml]\n")
    (workspace / "slos.yaml").write_text(SLO_FILE)
    try:
        assert oncall("-w", str(workspace), "import", str(data)) == 0
        yield Fixture(server, workspace, data)
    finally:
        server.stop()


# Each SLO of the fixture's workspace as the PromQL error ratio Prometheus answers, per window `w`.
SLI = {
    "checkout-availability": (
        'sum by (instance) (rate(http_requests_total{{code=~"5.."}}[{w}])) '
        "/ sum by (instance) (rate(http_requests_total[{w}]))"
    ),
    "checkout-latency": (
        '1 - sum(rate(http_request_duration_seconds_bucket{{le="0.25"}}[{w}])) '
        '/ sum(rate(http_request_duration_seconds_bucket{{le="+Inf"}}[{w}]))'
    ),
}
