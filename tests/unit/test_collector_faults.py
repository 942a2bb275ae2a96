"""Each fault shape makes that collector unhealthy with a readable error; nothing escapes."""

from __future__ import annotations

import json
import socket
import threading
from datetime import datetime, timedelta
from pathlib import Path

import httpx
import pytest

from collectors.alertmanager import AlertmanagerCollector
from collectors.http import HttpOptions
from collectors.prometheus import PrometheusCollector, PrometheusOptions
from collectors.run import run_once
from collectors.scrape import ScrapeCollector, ScrapeOptions
from console.store import Store
from tests.servers import free_port

NOW = datetime(2026, 11, 26, 12, 0)
MATRIX = {
    "status": "success",
    "data": {
        "resultType": "matrix",
        "result": [
            {
                "metric": {"__name__": "up", "job": "api"},
                "values": [[1795694340 + 60 * i, "1"] for i in range(5)],
            }
        ],
    },
}


@pytest.fixture
def store(tmp_path: Path) -> Store:
    with Store.open(tmp_path / "store.duckdb") as opened:
        yield opened


def prometheus(url: str = "http://prom.test", handler=None, **options) -> PrometheusCollector:
    collector = PrometheusCollector(
        "prom", PrometheusOptions(url=url, queries=["up"], lookback="10m", **options)
    )
    if handler is not None:
        collector.transport = httpx.MockTransport(handler)
    return collector


def health(store: Store, name: str) -> tuple:
    return store.query("SELECT healthy, last_error FROM collector_state WHERE name = ?", [name])[1][0]


def up_values(store: Store, name: str) -> list[float]:
    return [
        r[0]
        for r in store.query(
            "SELECT x.value FROM samples x JOIN series s ON s.id = x.series_id "
            "WHERE s.name = 'oncall_collector_up' AND s.labels = ? ORDER BY x.ts",
            [json.dumps({"collector": name}, separators=(",", ":"))],
        )[1]
    ]


def assert_fault(store: Store, collector, pattern: str) -> str:
    """Run a good batch first, then the fault: unhealthy, readable, earlier rows kept."""
    good = prometheus(handler=lambda request: httpx.Response(200, json=MATRIX))
    assert run_once(store, good, NOW - timedelta(minutes=5)).ok
    before = store.count("samples")
    cursor = store.get_cursor(good.name)
    outcome = run_once(store, collector, NOW)
    assert not outcome.ok
    assert outcome.error is not None
    assert pattern in outcome.error, outcome.error
    assert "\n" not in outcome.error and "Traceback" not in outcome.error
    healthy, last_error = health(store, collector.name)
    assert healthy is False and last_error == outcome.error
    assert up_values(store, collector.name)[-1] == 0.0
    assert store.count("samples") >= before  # nothing stored is lost
    if collector.name == good.name:
        assert store.get_cursor(good.name) == cursor  # the cursor did not move
    return outcome.error


def test_source_down(store: Store) -> None:
    error = assert_fault(store, prometheus(f"http://127.0.0.1:{free_port()}"), "cannot connect")
    assert "is the source up?" in error


def test_source_times_out(store: Store) -> None:
    def slow(request: httpx.Request) -> httpx.Response:
        raise httpx.ReadTimeout("timed out", request=request)

    assert_fault(store, prometheus(handler=slow), "timed out")


def test_source_answers_500(store: Store) -> None:
    error = assert_fault(
        store,
        prometheus(
            handler=lambda r: httpx.Response(500, text="query processing would load too many samples")
        ),
        "HTTP 500",
    )
    assert "too many samples" in error and error.startswith("http://prom.test/api/v1/query_range")


def test_source_answers_garbage(store: Store) -> None:
    assert_fault(
        store, prometheus(handler=lambda r: httpx.Response(200, text="<html>oops")), "answer is not JSON"
    )
    assert_fault(
        store,
        prometheus(
            handler=lambda r: httpx.Response(
                200,
                json={
                    "status": "success",
                    "data": {"resultType": "matrix", "result": [{"metric": {}, "values": [["x"]]}]},
                },
            )
        ),
        "malformed series",
    )
    am = AlertmanagerCollector("am", HttpOptions(url="http://am.test"))
    am.transport = httpx.MockTransport(lambda r: httpx.Response(200, json={"alerts": []}))
    assert_fault(store, am, "expected a list of alerts")


def test_body_cut_short(store: Store) -> None:
    """A real socket that promises 1000 bytes, sends 40 and hangs up."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen()

    def serve() -> None:
        conn, _ = listener.accept()
        conn.recv(65536)
        conn.sendall(
            b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
            b"Content-Length: 1000\r\n\r\n" + b'{"status":"success","data":{"resultType"'
        )
        conn.close()

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        url = f"http://127.0.0.1:{listener.getsockname()[1]}"
        assert_fault(store, prometheus(url), "cut short")
    finally:
        listener.close()


def test_a_10_mb_line(store: Store) -> None:
    line = b"x" * (10 << 20)
    scrape = ScrapeCollector("scrape", ScrapeOptions(url="http://exporter.test/metrics"))
    scrape.transport = httpx.MockTransport(lambda r: httpx.Response(200, content=line))
    assert_fault(store, scrape, "response larger than 8388608 bytes")
    # Under a larger cap the same line is read, then refused as not an exposition page.
    bigger = ScrapeCollector("scrape2", ScrapeOptions(url="http://exporter.test/metrics", max_bytes=32 << 20))
    bigger.transport = httpx.MockTransport(lambda r: httpx.Response(200, content=line + b"\n"))
    error = assert_fault(store, bigger, "not a Prometheus or OpenMetrics page")
    assert len(error) < 400
    assert assert_fault(
        store, prometheus(handler=lambda r: httpx.Response(200, content=line)), "answer is not JSON"
    )


def test_a_query_error_names_the_query(store: Store) -> None:
    body = {"status": "error", "errorType": "bad_data", "error": "parse error at char 3"}
    assert_fault(store, prometheus(handler=lambda r: httpx.Response(400, json=body)), "HTTP 400")
    assert_fault(
        store,
        prometheus(handler=lambda r: httpx.Response(200, json=body)),
        "query 'up' failed: parse error at char 3",
    )
