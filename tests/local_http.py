"""A small HTTP server on 127.0.0.1 for tests, answering from a route function.

A route takes the request path and returns `(status, body, content type)`; a route that
needs to misbehave (trickle, hang, echo a header) gets the handler itself with `raw=True`
and writes what it likes.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

Answer = tuple[int, bytes, str]
Route = Callable[[str], Answer]
RawRoute = Callable[[BaseHTTPRequestHandler], None]


def _handler(route: Route | RawRoute, raw: bool) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            if raw:
                route(self)  # type: ignore[arg-type]
                return
            code, body, kind = route(self.path)  # type: ignore[arg-type,misc]
            self.send_response(code)
            self.send_header("Content-Type", kind)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            return None  # the test's output stays the program's

    return Handler


@contextlib.contextmanager
def serve(route: Route | RawRoute, *, raw: bool = False) -> Iterator[str]:
    """Serve `route` on a free port of 127.0.0.1; yields the base URL, stops on exit."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(route, raw))
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join()
