"""One generated history in OpenMetrics, backfilled into a real Prometheus and imported into an
oncall store: PromQL answers from both are compared sample by sample."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import numpy as np
import pytest

from console.cli.main import main
from console.store import Store
from tests.servers import Server, backfill, start_prometheus

START = datetime(2026, 3, 2, 8, 0, 0)  # the first sample
HOURS = 3


def epoch(value: datetime) -> int:
    return int((value - datetime(1970, 1, 1)).total_seconds())


def _fmt(value: float) -> str:
    if np.isnan(value):
        return "NaN"
    if np.isinf(value):
        return "+Inf" if value > 0 else "-Inf"
    return repr(float(value))


def _labels(labels: dict[str, str]) -> str:
    return ",".join(f'{k}="{v}"' for k, v in sorted(labels.items()))


def history() -> dict[str, list[tuple[dict[str, str], list[tuple[int, float]]]]]:
    """Metric families: per series its labels and (epoch s, value) samples."""
    rng = np.random.default_rng(18)
    t0 = epoch(START)
    span = HOURS * 3600
    fams: dict[str, list[tuple[dict[str, str], list[tuple[int, float]]]]] = {}

    def every(step: int, lo: int = 0, hi: int = span, jitter: bool = False) -> list[int]:
        times = list(range(lo, hi, step))
        if jitter:
            times = [t + int(rng.integers(0, 3)) for t in times]
        return [t0 + t for t in times]

    requests = []
    for instance in ("a", "b", "c"):
        for code in ("200", "500"):
            lo, hi = (0, span) if instance != "c" else (2400, 4800)  # c is born and dies inside the range
            times = every(15, lo, hi, jitter=instance == "a")
            rate = 20.0 if code == "200" else 0.7
            values = np.cumsum(rng.poisson(rate * 15, len(times))).astype(float) + (
                500 if instance == "a" else 0
            )
            if instance == "b":  # restarts twice: counter resets inside windows
                for at in (len(times) // 3, 2 * len(times) // 3):
                    values[at:] -= values[at - 1] - rng.integers(0, 5)
            requests.append(
                ({"job": "api", "instance": instance, "code": code}, list(zip(times, values.tolist())))
            )
    fams["http_requests_total"] = requests

    gauges = []
    for room in ("kitchen", "hall", "attic", ""):
        times = every(30)
        if room == "attic":  # a 12-minute gap: longer than the 5-minute lookback
            times = [t for t in times if not (t0 + 3600 <= t < t0 + 3600 + 720)]
        values = 20 + np.cumsum(rng.normal(0, 0.5, len(times)))
        labels = {"room": room} if room else {"sensor": "outdoor"}  # one without a room
        gauges.append((labels, list(zip(times, values.round(3).tolist()))))
    fams["temperature_celsius"] = gauges

    depth = []
    for i, instance in enumerate(("a", "b", "c", "d")):
        times = every(60)
        values = rng.integers(0, 6, len(times)).astype(float)  # small integers: ties for topk
        if i == 3:
            values[:] = 3.0
        depth.append(
            ({"instance": instance, "queue": "q1" if i < 2 else "q2"}, list(zip(times, values.tolist())))
        )
    fams["queue_depth"] = depth

    fams["build_info"] = [
        ({"instance": inst, "version": ver, "job": "api"}, [(t, 1.0) for t in every(60)])
        for inst, ver in (("a", "1.2"), ("b", "1.3"), ("c", "1.3"))
    ]

    buckets = []
    bounds = ("0.05", "0.1", "0.25", "0.5", "1", "2.5", "10", "+Inf")  # "10" sorts before "2.5" as text
    for instance in ("a", "b"):
        times = every(15)
        n = len(times)
        per = rng.poisson(40, n).astype(float)
        cum = np.zeros(n)
        slow = np.zeros(n, dtype=bool)
        slow[n // 2 : n // 2 + 120] = True
        for le in bounds:
            share = {
                "0.05": 0.2,
                "0.1": 0.45,
                "0.25": 0.7,
                "0.5": 0.85,
                "1": 0.93,
                "2.5": 0.98,
                "10": 0.995,
            }.get(le, 1.0)
            share_slow = share**3 if le != "+Inf" else 1.0
            counts = np.cumsum(np.round(per * np.where(slow, share_slow, share)))
            cum = np.maximum(cum, counts)
            buckets.append(({"instance": instance, "le": le}, list(zip(times, cum.tolist()))))
    fams["request_duration_seconds_bucket"] = buckets
    fams["only_inf_bucket"] = [({"le": "+Inf"}, [(t, float(i)) for i, t in enumerate(every(60))])]

    fams["disk_free_bytes"] = [
        ({"mount": m}, [(t, 1e9 - k * 1e5 * (j + 1) + rng.normal(0, 1e4)) for k, t in enumerate(every(60))])
        for j, m in enumerate(("/", "/data"))
    ]
    return fams


def write_openmetrics(path: Path) -> None:
    lines = []
    for name, series in history().items():
        for labels, samples in series:
            lines += [f"{name}{{{_labels(labels)}}} {_fmt(v)} {t}" for t, v in samples]
    lines.append("# EOF")
    path.write_text("\n".join(lines) + "\n")


@dataclass
class Peer:
    prometheus: Server
    store: Store


@pytest.fixture(scope="session")
def peer(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Peer]:
    root = tmp_path_factory.mktemp("promql")
    data = root / "history.om"
    write_openmetrics(data)
    server = start_prometheus(backfill(data, root / "tsdb"), root)
    workspace = root / "ws"
    workspace.mkdir()
    (workspace / "oncall.yaml").write_text("store: oncall.duckdb\n")
    try:
        assert main(["-w", str(workspace), "import", str(data)]) == 0
        store = Store.open_read(workspace / "oncall.duckdb", snapshot=False)
        try:
            yield Peer(server, store)
        finally:
            store.close()
    finally:
        server.stop()
