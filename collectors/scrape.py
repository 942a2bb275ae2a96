"""`scrape`: read a /metrics endpoint (Prometheus text or OpenMetrics) like Prometheus does."""

from __future__ import annotations

import time
from datetime import datetime
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import httpx
import pyarrow as pa
from pydantic import Field

from collectors.base import Collector, CollectResult, SourceError, TimedOptions
from collectors.deadline import check_deadline
from collectors.http import HttpOptions, fetch, make_client
from collectors.staleness import TARGET_KEY, markers_for
from collectors.validate import NUMBER, Refusals, Window, sample_table
from console.store import canonical_labels, ingest_samples

if TYPE_CHECKING:
    from console.store import Store

ACCEPT = "application/openmetrics-text;version=1.0.0;q=0.9,text/plain;version=0.0.4;q=0.5,*/*;q=0.1"
# A sample line up to its value: name, {labels} (quoted values may hold spaces and braces).
SAMPLE_LINE = (
    r'^[a-zA-Z_:][a-zA-Z0-9_:]*[ \t]*(?:\{(?:[^"}]|"(?:[^"\\]|\\.)*")*\})?'
    r"[ \t]+(?P<value>[^ \t]+)"
)


class ScrapeOptions(HttpOptions, TimedOptions):
    job: str | None = None
    max_bytes: int = Field(default=8 << 20, gt=0)


def parse_exposition(text: str, content_type: str) -> list[tuple[str, dict[str, str], Any, Any]]:
    """(name, labels, value, timestamp seconds or None) for every sample in the page; values
    and timestamps as the parser read them (an int may be beyond any float)."""
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
            samples.append((sample.name, dict(sample.labels), sample.value, stamp))
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
    options: ScrapeOptions
    retention_kind = "samples"
    transport: httpx.BaseTransport | None = None
    monotonic = staticmethod(time.monotonic)

    def collect(self, store: Store, now: datetime) -> CollectResult:
        opts = self.options
        target = {"job": opts.job or self.name, "instance": instance_of(opts.url)}
        started = self.monotonic()
        samples, error = self._scrape()
        duration = self.monotonic() - started
        scraped = len(samples) + self.refused.total  # lines whose value did not parse too
        window = self.window(now)
        page = page_table(samples, target, window, self.refused)
        meta = [("up", 0.0 if error else 1.0), ("scrape_duration_seconds", duration)]
        if not error:
            meta.append(("scrape_samples_scraped", float(scraped)))
        table = pa.concat_tables([page, _meta_table(meta, target, window)])
        # the series of the previous successful scrape this one does not give end here
        stale = markers_for(store, store.get_cursor(self.name), table, now)
        cursor = (self.name, {"last": str(now), TARGET_KEY: target})
        added = ingest_samples(
            store, pa.concat_tables([table, stale]), cursor=None if error else cursor, now=now
        )
        if error:
            raise error
        return CollectResult(
            rows=added,
            detail={
                "samples": table.num_rows - len(meta),
                "refused": self.refused.total,
                "stale": stale.num_rows,
            },
        )

    def _scrape(self) -> tuple[list[tuple[str, dict[str, str], Any, Any]], SourceError | None]:
        """The page's samples, or none and why the scrape failed (the scrape still writes `up`)."""
        opts = self.options
        try:
            with make_client(opts, self.transport, base_dir=self.base_dir) as client:
                response = fetch(
                    client, "GET", opts.url, max_bytes=opts.max_bytes, headers={"Accept": ACCEPT}
                )
            samples = read_page(
                response.content, response.headers.get("content-type", ""), response.url, self.refused
            )
            check_deadline(where=response.url)  # parsing counts too
        except SourceError as exc:
            return [], exc
        return samples, None


def _meta_table(meta: list[tuple[str, float]], target: dict[str, str], window: Window) -> pa.Table:
    """The series Prometheus adds to each scrape (`up`, its duration, its sample count)."""
    return sample_table(
        [name for name, _ in meta],
        [canonical_labels(target)] * len(meta),
        [window.now] * len(meta),
        [value for _, value in meta],
        window,
        Refusals(),
    )


def read_page(
    content: bytes, content_type: str, url: str, refused: Refusals
) -> list[tuple[str, dict[str, str], Any, Any]]:
    """The page's samples; lines whose value does not parse are left out and counted."""
    try:
        text = content.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise SourceError(f"{url}: not a Prometheus or OpenMetrics page (not UTF-8: {exc})") from None
    try:
        return parse_exposition(text, content_type)
    except Exception as first:  # noqa: BLE001 - the parser's errors have no common type: one line, named
        kept, unparsed = drop_unparsed_values(text)
        try:
            if not unparsed:
                raise first
            samples = parse_exposition(kept, content_type)
        except Exception as exc:  # noqa: BLE001 - as above: named in the SourceError
            raise SourceError(
                f"{url}: not a Prometheus or OpenMetrics page ({type(exc).__name__}: {str(exc)[:160]})"
            ) from None
    refused.add("value", "unparsed", unparsed)
    return samples


def drop_unparsed_values(text: str) -> tuple[str, int]:
    """The page without its sample lines whose value is not a number, and how many those were."""
    import pyarrow.compute as pc

    lines = pa.array(text.split("\n"), pa.string())
    value = pc.struct_field(pc.extract_regex(lines, SAMPLE_LINE), "value")
    bad = pc.fill_null(pc.invert(pc.match_substring_regex(value, NUMBER)), False)
    return "\n".join(pc.filter(lines, pc.invert(bad)).to_pylist()), pc.sum(bad).as_py() or 0


def page_table(
    samples: list[tuple[str, dict[str, str], Any, Any]],
    target: dict[str, str],
    window: Window,
    refused: Refusals,
) -> pa.Table:
    """The page's samples inside the window, with the target's labels; a sample without a
    timestamp of its own is at the time of the scrape."""
    return sample_table(
        [s[0] for s in samples],
        [canonical_labels(with_target(s[1], target)) for s in samples],
        [window.now if s[3] is None else s[3] for s in samples],
        [s[2] for s in samples],
        window,
        refused,
    )
