"""A local HTTP server with one path per way a source misbehaves, for the deadline tests.

    /slow-headers  the status line, then a header one byte at a time, never ending
    /trickle       good headers promising a large body, then one byte at a time
    /silent        reads the request and never answers
    /garbage       answers bytes that are not HTTP and hangs up
    /huge-line     good headers, then one endless line, as fast as the socket takes it
    /metrics       a healthy Prometheus page (hits counted, like every path)

A path is known by its first segment (`/trickle/api/v1/query_range` trickles too).
Every slow loop is bounded (`LIMIT_S`) and ends when the fixture closes.
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections import Counter
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler

from tests.local_http import serve

LIMIT_S = 60.0  # no handler runs longer than this, whatever the client does
STEP_S = 0.2  # one byte per step: well under any per-read timeout
METRICS = b'# TYPE requests_total counter\nrequests_total{code="200"} 7\n'


class Misbehaving:
    """The server's state: hits per path, and the event that ends every slow answer."""

    def __init__(self) -> None:
        self.hits: Counter[str] = Counter()
        self.stop = threading.Event()
        self._lock = threading.Lock()

    def route(self, handler: BaseHTTPRequestHandler) -> None:
        path = "/" + handler.path.split("?")[0].strip("/").split("/")[0]  # /trickle/api/... too
        with self._lock:
            self.hits[path] += 1
        shape = SHAPES.get(path, _not_found)
        with contextlib.suppress(BrokenPipeError, ConnectionResetError):
            shape(self, handler)

    def _drip(self, handler: BaseHTTPRequestHandler, byte: bytes) -> None:
        ends = time.monotonic() + LIMIT_S
        while time.monotonic() < ends and not self.stop.wait(STEP_S):
            handler.wfile.write(byte)


def _slow_headers(server: Misbehaving, handler: BaseHTTPRequestHandler) -> None:
    handler.wfile.write(b"HTTP/1.1 200 OK\r\nX-Slow: ")
    server._drip(handler, b"a")


def _trickle(server: Misbehaving, handler: BaseHTTPRequestHandler) -> None:
    handler.wfile.write(b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 1000000\r\n\r\n")
    server._drip(handler, b"#")


def _silent(server: Misbehaving, handler: BaseHTTPRequestHandler) -> None:
    server.stop.wait(LIMIT_S)


def _garbage(server: Misbehaving, handler: BaseHTTPRequestHandler) -> None:
    handler.wfile.write(b"\x00\xff\x13garbage that is not HTTP\r\n\r\n\x89PNG")
    handler.close_connection = True


def _huge_line(server: Misbehaving, handler: BaseHTTPRequestHandler) -> None:
    handler.wfile.write(b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nConnection: close\r\n\r\n")
    block = b"x" * 65536
    ends = time.monotonic() + LIMIT_S
    for _ in range(4096):  # at most 256 MiB
        if server.stop.is_set() or time.monotonic() > ends:
            break
        handler.wfile.write(block)


def _metrics(server: Misbehaving, handler: BaseHTTPRequestHandler) -> None:
    handler.send_response(200)
    handler.send_header("Content-Type", "text/plain; version=0.0.4")
    handler.send_header("Content-Length", str(len(METRICS)))
    handler.end_headers()
    handler.wfile.write(METRICS)


def _not_found(server: Misbehaving, handler: BaseHTTPRequestHandler) -> None:
    handler.send_error(404)


SHAPES = {
    "/slow-headers": _slow_headers,
    "/trickle": _trickle,
    "/silent": _silent,
    "/garbage": _garbage,
    "/huge-line": _huge_line,
    "/metrics": _metrics,
}


@contextlib.contextmanager
def misbehaving_server() -> Iterator[tuple[str, Misbehaving]]:
    """(base URL, state) of a misbehaving server on 127.0.0.1; every answer ends on exit."""
    state = Misbehaving()
    with serve(state.route, raw=True) as base:
        try:
            yield base, state
        finally:
            state.stop.set()
