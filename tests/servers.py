"""Starting real servers for integration tests: free port, temp dir, readiness, stop by PID.

A server that is missing fails the test (never a skip): `tests/run` installs them.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def require_binary(name: str) -> str:
    path = shutil.which(name)
    if path is None:
        raise RuntimeError(
            f"{name} is not installed; run the tests through `bash tests/run`, which installs it"
        )
    return path


@dataclass
class Server:
    """A running server process and where to reach it."""

    name: str
    process: subprocess.Popen
    url: str
    port: int
    workdir: Path
    log_path: Path

    def log(self) -> str:
        try:
            return self.log_path.read_text(errors="replace")[-4000:]
        except OSError:
            return ""

    def stop(self) -> None:
        """Stop by PID: SIGTERM, then SIGKILL after 10 s."""
        if self.process.poll() is None:
            try:
                os.killpg(self.process.pid, signal.SIGTERM)
            except ProcessLookupError:
                return
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(timeout=10)


def start_server(
    name: str,
    argv: Sequence[str],
    *,
    port: int,
    workdir: Path,
    ready_path: str,
    timeout: float = 60.0,
    env: dict[str, str] | None = None,
    ready_status: int = 200,
) -> Server:
    """Start `argv` in its own process group, wait until GET ready_path answers."""
    workdir.mkdir(parents=True, exist_ok=True)
    log_path = workdir / f"{name}.log"
    with open(log_path, "wb") as log:  # the child keeps its own copy of the descriptor
        process = subprocess.Popen(
            list(argv),
            cwd=workdir,
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
            env={**os.environ, **(env or {})},
        )
    server = Server(name, process, f"http://127.0.0.1:{port}", port, workdir, log_path)
    deadline = time.monotonic() + timeout
    last = ""
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"{name} exited with {process.returncode}:\n{server.log()}")
        try:
            response = httpx.get(server.url + ready_path, timeout=2)
            if response.status_code == ready_status:
                return server
            last = f"HTTP {response.status_code}"
        except httpx.HTTPError as exc:
            last = str(exc)
        time.sleep(0.2)
    server.stop()
    raise RuntimeError(f"{name} not ready after {timeout:.0f}s ({last}):\n{server.log()}")


DEFAULT_ALERTMANAGER_CONFIG = "route: {receiver: nobody, group_wait: 1s}\nreceivers: [{name: nobody}]\n"


def start_alertmanager(workdir: Path, config: str | None = None) -> Server:
    """A real Alertmanager, its HA listener off; `config` (YAML) defaults to a do-nothing receiver."""
    binary = require_binary("/usr/bin/prometheus-alertmanager")
    (workdir / "alertmanager.yml").parent.mkdir(parents=True, exist_ok=True)
    (workdir / "alertmanager.yml").write_text(config or DEFAULT_ALERTMANAGER_CONFIG)
    port = free_port()
    return start_server(
        "alertmanager",
        [
            binary,
            f"--config.file={workdir / 'alertmanager.yml'}",
            f"--storage.path={workdir / 'data'}",
            f"--web.listen-address=127.0.0.1:{port}",
            "--cluster.listen-address=",
        ],
        port=port,
        workdir=workdir,
        ready_path="/-/ready",
    )


def backfill(openmetrics: Path, tsdb: Path, *, block: str | None = None, timeout: float = 300) -> Path:
    """A Prometheus TSDB built from an OpenMetrics file by `promtool tsdb create-blocks-from`."""
    tsdb.mkdir(parents=True, exist_ok=True)
    argv = [require_binary("promtool"), "tsdb", "create-blocks-from", "openmetrics"]
    if block:
        argv.append(f"--max-block-duration={block}")
    subprocess.run([*argv, str(openmetrics), str(tsdb)], check=True, capture_output=True, timeout=timeout)
    return tsdb


def start_prometheus(
    tsdb: Path, workdir: Path, *, extra: Sequence[str] = (), timeout: float = 60.0
) -> Server:
    """A real Prometheus on 127.0.0.1 serving `tsdb` (kept forever, scraping nothing)."""
    workdir.mkdir(parents=True, exist_ok=True)
    config = workdir / "prometheus.yml"
    config.write_text("global: {scrape_interval: 1m}\nscrape_configs: []\n")
    port = free_port()
    return start_server(
        "prometheus",
        [
            require_binary("prometheus"),
            f"--config.file={config}",
            f"--storage.tsdb.path={tsdb}",
            "--storage.tsdb.retention.time=100y",
            f"--web.listen-address=127.0.0.1:{port}",
            *extra,
        ],
        port=port,
        workdir=workdir / "run",
        ready_path="/-/ready",
        timeout=timeout,
    )


def prometheus_query_range(server: Server, expr: str, start: Any, end: Any, step: Any) -> list[dict]:
    """`/api/v1/query_range` on a real Prometheus (naive datetimes are UTC): its result list."""
    from datetime import datetime

    def seconds(moment: datetime) -> float:
        return (moment - datetime(1970, 1, 1)).total_seconds()

    response = httpx.get(
        server.url + "/api/v1/query_range",
        params={"query": expr, "start": seconds(start), "end": seconds(end), "step": step.total_seconds()},
        timeout=120,
    )
    body = response.json()
    assert body["status"] == "success", body
    return body["data"]["result"]
