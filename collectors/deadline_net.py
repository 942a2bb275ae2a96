"""The deadline at the socket: every connect, read and write waits at most the time left.

httpx's timeouts are per operation, so a server that trickles a byte a second never
trips them.  Here each operation of httpcore's network stream gets min(its timeout, the
time left of the run's deadline), and a timeout that the deadline caused is raised as
`DeadlineExceeded`.  The bytes read are counted for its message.
"""

from __future__ import annotations

import ssl
from collections.abc import Callable, Iterable
from typing import Any, TypeVar

import httpcore
import httpx

from collectors.deadline import Deadline, DeadlineExceeded

T = TypeVar("T")


def _bounded(deadline: Deadline, op_timeout: float | None, call: Callable[[float], T]) -> T:
    """`call(timeout)` with the timeout cut to the deadline; its timeout, if the deadline's,
    becomes DeadlineExceeded."""
    timeout = deadline.timeout(op_timeout)
    cut = op_timeout is None or timeout < op_timeout
    try:
        return call(timeout)
    except httpcore.TimeoutException:
        if cut or deadline.left() <= 0:
            raise DeadlineExceeded(deadline) from None
        raise


class DeadlineStream(httpcore.NetworkStream):
    """A network stream whose operations end by the deadline."""

    def __init__(self, stream: httpcore.NetworkStream, deadline: Deadline) -> None:
        self._stream, self._deadline = stream, deadline

    def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        data = _bounded(self._deadline, timeout, lambda t: self._stream.read(max_bytes, t))
        self._deadline.bytes_read += len(data)
        return data

    def write(self, buffer: bytes, timeout: float | None = None) -> None:
        _bounded(self._deadline, timeout, lambda t: self._stream.write(buffer, t))

    def close(self) -> None:
        self._stream.close()

    def start_tls(
        self, ssl_context: ssl.SSLContext, server_hostname: str | None = None, timeout: float | None = None
    ) -> httpcore.NetworkStream:
        tls = _bounded(
            self._deadline, timeout, lambda t: self._stream.start_tls(ssl_context, server_hostname, t)
        )
        return DeadlineStream(tls, self._deadline)

    def get_extra_info(self, info: str) -> Any:
        return self._stream.get_extra_info(info)


class DeadlineBackend(httpcore.NetworkBackend):
    """httpcore's network backend with every stream bounded by `deadline`."""

    def __init__(self, backend: httpcore.NetworkBackend, deadline: Deadline) -> None:
        self._backend, self._deadline = backend, deadline

    def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.NetworkStream:
        stream = _bounded(
            self._deadline,
            timeout,
            lambda t: self._backend.connect_tcp(host, port, t, local_address, socket_options),
        )
        return DeadlineStream(stream, self._deadline)

    def connect_unix_socket(
        self, path: str, timeout: float | None = None, socket_options: Iterable[Any] | None = None
    ) -> httpcore.NetworkStream:
        stream = _bounded(
            self._deadline, timeout, lambda t: self._backend.connect_unix_socket(path, t, socket_options)
        )
        return DeadlineStream(stream, self._deadline)

    def sleep(self, seconds: float) -> None:
        self._backend.sleep(min(seconds, max(0.0, self._deadline.left())))


def deadline_transport(deadline: Deadline, verify: str | bool) -> httpx.HTTPTransport:
    """An httpx transport (TLS as `verify` says) whose connections end by `deadline`."""
    transport = httpx.HTTPTransport(verify=verify)
    use_backend(transport, lambda backend: DeadlineBackend(backend, deadline))
    return transport


def use_backend(
    transport: httpx.HTTPTransport, wrap: Callable[[httpcore.NetworkBackend], httpcore.NetworkBackend]
) -> None:
    """Wrap the network backend of the transport's connection pool.

    httpx has no public way to hand HTTPTransport an httpcore network backend, so this
    reaches into two private attributes: `HTTPTransport._pool` (an httpcore.ConnectionPool)
    and the pool's `_network_backend`.  It is the only place that does;
    tests/faults/test_deadlines_http.py::test_the_deadline_backend_is_what_httpx_uses
    fails if a new httpx moves them, and here a missing attribute is an error, not a
    silent loss of the deadline.
    """
    pool = getattr(transport, "_pool", None)
    backend = getattr(pool, "_network_backend", None)
    if not isinstance(backend, httpcore.NetworkBackend):
        raise RuntimeError(
            f"httpx {httpx.__version__} keeps no httpcore network backend where "
            "collectors/deadline_net.py expects it; source deadlines cannot be "
            "enforced (use the httpx version pyproject.toml names)"
        )
    pool._network_backend = wrap(backend)  # type: ignore[union-attr]
