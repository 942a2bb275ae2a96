"""prometheus and scrape collectors against a real Prometheus, VictoriaMetrics and exporter."""

from __future__ import annotations

import json
import math
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest

from collectors.base import SourceError
from collectors.prometheus import PrometheusCollector, PrometheusOptions
from collectors.scrape import ScrapeCollector, ScrapeOptions
from console.store import Store, canonical_labels

pytestmark = pytest.mark.integration


def utcnow() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


EPOCH = datetime(1970, 1, 1)


@pytest.fixture
def store(tmp_path: Path) -> Store:
    with Store.open(tmp_path / "store.duckdb") as opened:
        yield opened


def stored(store: Store, name: str) -> dict[tuple[str, float], float]:
    rows = store.query(
        "SELECT s.labels, epoch(x.ts), x.value FROM samples x JOIN series s "
        "ON s.id = x.series_id WHERE s.name = ?",
        [name],
    )[1]
    return {(labels, round(ts, 3)): value for labels, ts, value in rows}


def server_answer(
    url: str, expr: str, start: float, end: float, step: float, name: str | None = None
) -> dict[tuple[str, float], float]:
    body = httpx.get(
        url + "/api/v1/query_range", params={"query": expr, "start": start, "end": end, "step": step}
    ).json()
    assert body["status"] == "success", body
    answer = {}
    for series in body["data"]["result"]:
        metric = dict(series["metric"])
        metric.pop("__name__", None)
        for ts, value in series["values"]:
            answer[(canonical_labels(metric), round(float(ts), 3))] = float(value)
    return answer


def wait_for_samples(url: str, match: str, expected: int, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    seen = 0
    while time.monotonic() < deadline:
        exported = httpx.get(url + "/api/v1/export", params={"match[]": match})
        seen = sum(len(json.loads(line)["values"]) for line in exported.text.splitlines() if line)
        if seen >= expected:
            return
        time.sleep(0.1)
    raise AssertionError(f"only {seen} of {expected} imported samples became searchable")


def window(now: datetime, lookback: float, step: float) -> tuple[float, float]:
    end = math.floor((now - EPOCH).total_seconds() / step) * step
    return math.ceil((end - lookback) / step) * step, end


def test_prometheus_collector_matches_query_range(prometheus, store: Store) -> None:
    # Two seconds back, so no scrape is still landing inside the compared range.
    now = utcnow() - timedelta(seconds=2)
    options = PrometheusOptions(
        url=prometheus.url,
        step="1s",
        lookback="20s",
        max_points=5,
        queries=[
            "demo_requests_total",
            {"expr": "sum(rate(demo_requests_total[5s]))", "record": "demo:requests:rate5s"},
        ],
    )
    collector = PrometheusCollector("prom", options)
    result = collector.collect(store, now)
    assert result.detail["requests"] == 10  # 21 steps per query, at most 5 per request
    start, end = window(now, 20, 1)
    ours = stored(store, "demo_requests_total")
    theirs = server_answer(prometheus.url, "demo_requests_total", start, end, 1)
    assert len(theirs) >= 2 * 3 and ours == theirs
    rate = server_answer(prometheus.url, "sum(rate(demo_requests_total[5s]))", start, end, 1)
    assert stored(store, "demo:requests:rate5s") == rate and max(rate.values()) > 0

    # The next run starts after the cursor: new points only, nothing twice.
    later = now + timedelta(seconds=1)
    again = collector.collect(store, later)
    assert again.rows == 3  # one new step for 2 code series + the rate
    assert store.query("SELECT count(*) - count(DISTINCT (series_id, ts)) FROM samples")[1] == [(0,)]


def test_prometheus_collector_against_victoriametrics_after_import(victoriametrics, store: Store) -> None:
    now = utcnow().replace(microsecond=0)
    base = (now - EPOCH).total_seconds()
    lines = []
    for i in range(40):  # ten minutes at 15 s
        stamp_ms = int((base - 600 + 15 * i) * 1000)
        lines.append(f'vm_latency_seconds{{service="fraud",quantile="0.99"}} {0.1 + i / 100} {stamp_ms}')
        lines.append(f'vm_errors_total{{service="fraud"}} {i * 3} {stamp_ms}')
    response = httpx.post(victoriametrics.url + "/api/v1/import/prometheus", content="\n".join(lines) + "\n")
    assert response.status_code == 204, response.text
    httpx.get(victoriametrics.url + "/internal/force_flush")
    # A flushed sample can still be a moment from searchable: wait until all 80 are,
    # so the collector and the comparison below read the same data.
    wait_for_samples(victoriametrics.url, '{__name__=~"vm_.*"}', len(lines))
    options = PrometheusOptions(
        url=victoriametrics.url, step="30s", lookback="10m", queries=['{__name__=~"vm_.*"}']
    )
    PrometheusCollector("vm", options).collect(store, now)
    start, end = window(now, 600, 30)
    for name in ("vm_latency_seconds", "vm_errors_total"):
        theirs = server_answer(victoriametrics.url, name, start, end, 30)
        assert len(theirs) >= 15
        assert stored(store, name) == theirs


def test_scrape_collector_reads_the_exporter(exporter, stamped_sample, store: Store) -> None:
    stamped_at, stamped_value = stamped_sample
    now = utcnow()
    collector = ScrapeCollector("exporter", ScrapeOptions(url=exporter + "/metrics", job="demo"))
    collector.collect(store, now)
    target = {"job": "demo", "instance": exporter.removeprefix("http://")}
    version = stored(store, "demo_model_version")
    assert list(version.values()) == [3.0]
    assert json.loads(next(iter(version))[0]) == {"model": "fraud-detector", **target}
    # A sample that carries its own timestamp is stored at that time, not at `now`.
    assert stored(store, "demo_batch_last_rows") == {
        (canonical_labels({"pipeline": "features", **target}), stamped_at): stamped_value
    }
    codes = {json.loads(k[0])["code"]: v for k, v in stored(store, "demo_requests_total").items()}
    assert codes["200"] >= 7 and codes["500"] >= 1
    assert list(stored(store, "up").values()) == [1.0]
    assert 0 < next(iter(stored(store, "scrape_duration_seconds").values())) < 5


def test_scrape_of_a_dead_target_records_up_zero(store: Store) -> None:
    from tests.servers import free_port

    url = f"http://127.0.0.1:{free_port()}/metrics"
    collector = ScrapeCollector("dead", ScrapeOptions(url=url))
    with pytest.raises(SourceError, match="cannot connect"):
        collector.collect(store, datetime(2026, 11, 26, 12))
    assert list(stored(store, "up").values()) == [0.0]
