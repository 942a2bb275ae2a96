"""`scrape`: read a /metrics endpoint (Prometheus text or OpenMetrics) like Prometheus does."""

from __future__ import annotations

import time
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

import httpx
import pyarrow as pa
from pydantic import Field

from collectors.base import CollectResult, Collector, SourceError
from collectors.deadline import check_deadline
from collectors.http import HttpOptions, fetch, make_client
from console.store import canonical_labels, ingest_samples

ACCEPT = ("application/openmetrics-text;version=1.0.0;q=0.9,"
          "text/plain;version=0.0.4;q=0.5,*/*;q=0.1")


class ScrapeOptions(HttpOptions):
    job: str | None = None
    max_bytes: int = Field(default=8 << 20, gt=0)


def parse_exposition(text: str, content_type: str) -> list[tuple[str, dict[str, str], float, float | None]]:
    """(name, labels, value, timestamp seconds or None) for every sample in the page."""
    if "openmetrics" in content_type:
        from prometheus_client.openmetrics.parser import text_string_to_metric_families
    else:
        from prometheus_client.parser import text_string_to_metric_families
    samples = []
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            stamp = sample.timestamp
            if stamp is not None and not isinstance(stamp, (int, float)):
                stamp = stamp.sec + stamp.nsec / 1e9
            samples.append((sample.name, dict(sample.labels), float(sample.value), stamp))
    return samples


def instance_of(url: str) -> str:
    """The `instance` label for a target URL: host and port as written, as Prometheus has it.

    Never the userinfo or the query, which may carry credentials."""
    return urlsplit(url).netloc.rpartition("@")[2]


def with_target(labels: dict[str, str], target: dict[str, str]) -> dict[str, str]:
    """Add job/instance; a scraped label of the same name becomes exported_NAME, as in Prometheus."""
    merged = {(f"exported_{k}" if k in target else k): v for k, v in labels.items()}
    return {**merged, **target}


class ScrapeCollector(Collector):
    """Scrapes one endpoint; records `up` and `scrape_duration_seconds` with job/instance."""

    kind = "scrape"
    Options = ScrapeOptions
    transport: httpx.BaseTransport | None = None
    monotonic = staticmethod(time.monotonic)

    def collect(self, store: Any, now: datetime) -> CollectResult:
        opts: ScrapeOptions = self.options  # type: ignore[assignment]
        target = {"job": opts.job or self.name, "instance": instance_of(opts.url)}
        started = self.monotonic()
        rows: list[tuple[str, dict[str, str], float, float | None]] = []
        error: SourceError | None = None
        try:
            with make_client(opts, self.transport, base_dir=self.base_dir) as client:
                response = fetch(client, "GET", opts.url, max_bytes=opts.max_bytes,
                                 headers={"Accept": ACCEPT})
            try:
                text = response.content.decode("utf-8")
                rows = parse_exposition(text, response.headers.get("content-type", ""))
            except (ValueError, UnicodeDecodeError, TypeError, KeyError, IndexError) as exc:
                raise SourceError(f"{response.url}: not a Prometheus or OpenMetrics page "
                                  f"({type(exc).__name__}: {str(exc)[:160]})") from None
            check_deadline(where=opts.url)         # parsing counts too
        except SourceError as exc:
            error, rows = exc, []
        duration = self.monotonic() - started
        rows.append(("up", {}, 0.0 if error else 1.0, None))
        rows.append(("scrape_duration_seconds", {}, duration, None))
        if not error:
            rows.append(("scrape_samples_scraped", {}, float(len(rows) - 2), None))
        now_us = round((now - datetime(1970, 1, 1)) / timedelta(microseconds=1))
        table = pa.table({
            "name": pa.array([r[0] for r in rows], pa.string()),
            "labels": pa.array([canonical_labels(with_target(r[1], target)) for r in rows],
                               pa.string()),
            "ts": pa.array([now_us if r[3] is None else round(r[3] * 1_000_000) for r in rows],
                           pa.int64()).cast(pa.timestamp("us")),
            "value": pa.array([r[2] for r in rows], pa.float64())})
        added = ingest_samples(store, table, cursor=None if error else (self.name, {"last": str(now)}),
                               now=now)
        if error:
            raise error
        return CollectResult(rows=added, detail={"samples": len(rows) - 3})
