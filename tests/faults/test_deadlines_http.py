"""A source's `timeout` is a deadline for the whole run, cut at the socket (issue 15, point 1):
each misbehaving shape fails within its deadline plus a margin, says so, and is marked down."""

from __future__ import annotations

import json
import re
import time
from datetime import datetime
from pathlib import Path

import httpx
import pytest

from collectors.deadline import Deadline, in_force
from collectors.deadline_net import use_backend
from collectors.http import HttpOptions, fetch, make_client
from collectors.prometheus import PrometheusCollector, PrometheusOptions
from collectors.run import run_once
from collectors.scrape import ScrapeCollector, ScrapeOptions
from console.store import Store
from tests.misbehaving_http import METRICS, misbehaving_server

NOW = datetime(2026, 11, 26, 12, 0)
DEADLINE = 2.0
MARGIN = 2.0  # a loaded 2-core box: generous
SAID = re.compile(r"deadline 2s exceeded after (\d+) bytes")


@pytest.fixture
def store(tmp_path: Path):
    with Store.open(tmp_path / "s.duckdb") as opened:
        yield opened


@pytest.fixture
def server():
    with misbehaving_server() as served:
        yield served


def health(store: Store, name: str) -> tuple:
    return store.query("SELECT healthy, last_error FROM collector_state WHERE name = ?", [name])[1][0]


def up(store: Store, name: str) -> list[float]:
    return [
        r[0]
        for r in store.query(
            "SELECT x.value FROM samples x JOIN series s ON s.id = x.series_id "
            "WHERE s.name = 'oncall_collector_up' AND s.labels = ?",
            [json.dumps({"collector": name}, separators=(",", ":"))],
        )[1]
    ]


def timed_run(store: Store, collector) -> tuple[object, float]:
    started = time.monotonic()
    outcome = run_once(store, collector, NOW)
    return outcome, time.monotonic() - started


def scrape(base: str, path: str) -> ScrapeCollector:
    return ScrapeCollector(path.strip("/"), ScrapeOptions(url=base + path, timeout=DEADLINE))


@pytest.mark.parametrize(
    "path, some_bytes", [("/slow-headers", True), ("/trickle", True), ("/silent", False)]
)
def test_a_slow_source_fails_at_its_deadline_and_says_after_how_many_bytes(
    store, server, path, some_bytes
) -> None:
    base, _ = server
    outcome, seconds = timed_run(store, scrape(base, path))
    assert not outcome.ok
    assert seconds < DEADLINE + MARGIN, (seconds, outcome.error)
    assert outcome.error.startswith(f"{base}{path}: "), outcome.error
    said = SAID.search(outcome.error)
    assert said, outcome.error
    assert (int(said.group(1)) > 0) is some_bytes
    assert health(store, outcome.name) == (False, outcome.error)
    assert up(store, outcome.name) == [0.0]


def test_a_trickle_is_cut_though_every_byte_arrives_within_the_read_timeout(store, server) -> None:
    """Each byte comes 0.2 s after the last: httpx's per-read timeout alone never fires."""
    base, _ = server
    outcome, seconds = timed_run(store, scrape(base, "/trickle"))
    received = int(SAID.search(outcome.error).group(1))
    assert received > 60 + 3  # the headers, then bytes of the body one by one
    assert seconds < DEADLINE + MARGIN


@pytest.mark.parametrize(
    "path, said", [("/garbage", "malformed"), ("/huge-line", "larger than 8388608 bytes")]
)
def test_garbage_and_a_huge_line_fail_fast_with_what_was_wrong(store, server, path, said) -> None:
    base, _ = server
    outcome, seconds = timed_run(store, scrape(base, path))
    assert not outcome.ok and said in outcome.error, outcome.error
    assert seconds < DEADLINE + MARGIN
    assert up(store, outcome.name) == [0.0]


def test_the_deadline_covers_every_request_of_a_run(store, server) -> None:
    """A prometheus source with many queries: the deadline is for the run, not each request."""
    base, state = server
    collector = PrometheusCollector(
        "prom",
        PrometheusOptions(url=f"{base}/trickle", queries=[f"q{i}" for i in range(5)], timeout=DEADLINE),
    )
    outcome, seconds = timed_run(store, collector)
    assert SAID.search(outcome.error), outcome.error
    assert outcome.error.startswith(f"{base}/trickle/api/v1/query_range: ")
    assert seconds < DEADLINE + MARGIN
    assert state.hits["/trickle"] == 1


def test_a_healthy_source_is_unaffected(store, server) -> None:
    base, _ = server
    outcome, _ = timed_run(store, scrape(base, "/metrics"))
    assert outcome.ok, outcome.error
    assert up(store, "metrics") == [1.0]


def test_the_deadline_backend_is_what_httpx_uses(server) -> None:
    """collectors/deadline_net.use_backend reaches into httpx's transport; if httpx moves
    what it touches, this fails (bytes are counted only by our backend)."""
    base, _ = server
    deadline = Deadline(10)
    with in_force(deadline), make_client(HttpOptions(url=base)) as client:
        answer = fetch(client, "GET", f"{base}/metrics", max_bytes=1 << 20)
    assert answer.content == METRICS
    assert deadline.bytes_read > len(METRICS)  # the status line and headers too
    with pytest.raises(RuntimeError, match="source deadlines cannot be enforced"):
        use_backend(httpx.MockTransport(lambda r: httpx.Response(200)), lambda b: b)
