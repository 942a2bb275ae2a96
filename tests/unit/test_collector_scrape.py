"""The scrape collector on the Prometheus text format: timestamps, target labels, up."""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path

import httpx

from collectors.scrape import ScrapeCollector, ScrapeOptions
from console.store import Store

NOW = datetime(2026, 11, 26, 12, 0)
PAGE = """# HELP jobs_total Jobs run.
# TYPE jobs_total counter
jobs_total{job="etl",queue="a b"} 17 1795687200000
queue_depth 4
"""


def test_text_format_timestamps_and_target_labels(tmp_path: Path) -> None:
    seen = []

    def exporter(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, text=PAGE, headers={"content-type": "text/plain; version=0.0.4"})

    collector = ScrapeCollector("node", ScrapeOptions(url="http://10.0.0.5:9100/metrics"))
    collector.transport = httpx.MockTransport(exporter)
    with Store.open(tmp_path / "s.duckdb") as store:
        collector.collect(store, NOW)
        rows = store.query(
            "SELECT s.name, s.labels, x.ts, x.value FROM samples x "
            "JOIN series s ON s.id = x.series_id ORDER BY s.name"
        )[1]
    assert "openmetrics" in seen[0].headers["accept"]
    got = {name: (json.loads(labels), ts, value) for name, labels, ts, value in rows}
    target = {"job": "node", "instance": "10.0.0.5:9100"}
    # A millisecond timestamp in the page is honoured; the scraped `job` is kept as exported_job.
    assert got["jobs_total"] == (
        {"exported_job": "etl", "queue": "a b", **target},
        datetime(2026, 11, 26, 10),
        17.0,
    )
    assert got["queue_depth"] == (target, NOW, 4.0)
    assert got["up"] == (target, NOW, 1.0)
    assert got["scrape_samples_scraped"][2] == 2.0
