"""Real Prometheus, VictoriaMetrics and Alertmanager on 127.0.0.1, plus an exporter they scrape."""

from __future__ import annotations

import threading
import time

import httpx
import pytest
from prometheus_client import CollectorRegistry, Counter, Gauge, start_http_server
from prometheus_client.core import GaugeMetricFamily

from tests.servers import free_port, require_binary, start_alertmanager, start_server

# A sample the exporter publishes with its own timestamp (seconds since the epoch).
STAMPED_AT = 1_795_687_200.25
STAMPED_VALUE = 42.5


class _Stamped:
    """A custom collector exposing one sample that carries an explicit timestamp."""

    def collect(self):
        family = GaugeMetricFamily("demo_batch_last_rows", "rows in the last batch", labels=["pipeline"])
        family.add_metric(["features"], STAMPED_VALUE, timestamp=STAMPED_AT)
        yield family


@pytest.fixture
def stamped_sample() -> tuple[float, float]:
    """(timestamp, value) of the exporter's sample that carries its own timestamp."""
    return STAMPED_AT, STAMPED_VALUE


@pytest.fixture(scope="module")
def exporter():
    """A prometheus_client exporter on loopback whose counter keeps moving."""
    registry = CollectorRegistry()
    requests = Counter("demo_requests", "requests served", ["code"], registry=registry)
    Gauge("demo_model_version", "serving version", ["model"], registry=registry).labels("fraud-detector").set(
        3
    )
    registry.register(_Stamped())
    port = free_port()
    server, _thread = start_http_server(port, addr="127.0.0.1", registry=registry)
    stop = threading.Event()

    def serve_traffic() -> None:
        while not stop.wait(0.2):
            requests.labels("200").inc(7)
            requests.labels("500").inc()

    ticker = threading.Thread(target=serve_traffic, daemon=True)
    ticker.start()
    yield f"http://127.0.0.1:{port}"
    stop.set()
    server.shutdown()
    server.server_close()


@pytest.fixture(scope="module")
def prometheus(tmp_path_factory, exporter):
    """Prometheus scraping the exporter every second; yields once samples are there."""
    binary = require_binary("prometheus")
    workdir = tmp_path_factory.mktemp("prometheus")
    target = exporter.removeprefix("http://")
    (workdir / "prometheus.yml").write_text(
        "global: {scrape_interval: 1s, evaluation_interval: 1s}\n"
        f"scrape_configs:\n  - job_name: exporter\n    static_configs: [{{targets: ['{target}']}}]\n"
    )
    port = free_port()
    server = start_server(
        "prometheus",
        [
            binary,
            f"--config.file={workdir / 'prometheus.yml'}",
            f"--storage.tsdb.path={workdir / 'data'}",
            f"--web.listen-address=127.0.0.1:{port}",
        ],
        port=port,
        workdir=workdir,
        ready_path="/-/ready",
    )
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            answer = httpx.get(
                server.url + "/api/v1/query", params={"query": "count_over_time(demo_requests_total[1m])"}
            ).json()
            points = answer["data"]["result"]
            if points and min(float(p["value"][1]) for p in points) >= 6:
                break
            time.sleep(0.5)
        else:
            raise RuntimeError(f"Prometheus scraped nothing in 30 s:\n{server.log()}")
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="module")
def victoriametrics(tmp_path_factory):
    binary = require_binary("victoria-metrics")
    workdir = tmp_path_factory.mktemp("victoriametrics")
    port = free_port()
    server = start_server(
        "victoria-metrics",
        [
            binary,
            f"-storageDataPath={workdir / 'data'}",
            f"-httpListenAddr=127.0.0.1:{port}",
            "-search.latencyOffset=0s",
            "-search.disableCache",
            "-loggerLevel=ERROR",
        ],
        port=port,
        workdir=workdir,
        ready_path="/health",
    )
    yield server
    server.stop()


@pytest.fixture(scope="module")
def alertmanager(tmp_path_factory):
    server = start_alertmanager(tmp_path_factory.mktemp("alertmanager"))
    yield server
    server.stop()
