"""Shared HTTP plumbing for collectors: options, credentials, capped reads, masked errors."""

from __future__ import annotations

import functools
import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import httpx
from pydantic import Field

from collectors.base import CollectorOptions, SourceError
from collectors.deadline import DeadlineExceeded, current_deadline
from console.core.credentials import CredentialError, Credentials, client_auth
from console.core.secrets import mask_url, redact


class HttpOptions(CollectorOptions, Credentials):
    """Options every HTTP source takes.  Secrets come from files or environment, never YAML."""

    url: str = Field(min_length=1)
    timeout: float = Field(default=10.0, gt=0)
    tls_verify: bool = True
    ca_file: str | None = None
    max_bytes: int = Field(default=64 << 20, gt=0)


def make_client(
    options: HttpOptions, transport: httpx.BaseTransport | None = None, *, base_dir: str | Path = "."
) -> httpx.Client:
    """An httpx client with the source's credentials, TLS verification and timeout; inside a
    run with a deadline (`collectors.deadline`), its connections end by that deadline."""
    try:
        auth, hooks = client_auth(options, options.url, base_dir)
    except CredentialError as exc:
        raise SourceError(str(exc)) from None
    verify: str | bool = options.ca_file or options.tls_verify
    deadline = current_deadline()
    if transport is None and deadline is not None:  # the run's deadline, cut at the socket
        from collectors.deadline_net import deadline_transport

        transport = deadline_transport(deadline, verify)
    return httpx.Client(
        headers={"User-Agent": "oncall-collector"},
        auth=auth,
        verify=verify,
        timeout=options.timeout,
        transport=transport,
        follow_redirects=True,
        event_hooks=hooks,
    )


def join_url(base: str, path: str) -> str:
    """`path` appended to the base URL's path, keeping the base's query (`?token=…`)."""
    url = httpx.URL(base)
    return str(url.copy_with(path=url.path.rstrip("/") + "/" + path.lstrip("/")))


@dataclass
class Fetched:
    """A response read whole (within the cap): where from, status, headers, body."""

    url: str
    status: int
    headers: httpx.Headers
    content: bytes


Fetch = TypeVar("Fetch", bound=Callable[..., "Fetched"])


def masked_errors(function: Fetch) -> Fetch:
    """Errors and the answer's URL with URL secrets masked and secret values redacted."""

    @functools.wraps(function)
    def masked(*args: Any, **kwargs: Any) -> Fetched:
        try:
            result = function(*args, **kwargs)
        except SourceError as exc:
            raise SourceError(redact(str(exc))) from None
        result.url = mask_url(result.url)
        return result

    return masked  # type: ignore[return-value]


@masked_errors
def fetch(client: httpx.Client, method: str, url: str, *, max_bytes: int, **kwargs: Any) -> Fetched:
    """Send a request and read at most `max_bytes` of body; every failure is a SourceError."""
    shown = url
    try:
        with client.stream(method, url, **kwargs) as response:
            shown = str(response.request.url) if response.history else url  # redirected
            body = _read_body(response, shown, max_bytes)
    except DeadlineExceeded as exc:
        raise exc.at(shown) from None
    except httpx.HTTPError as exc:
        raise _transport_error(shown, exc) from None
    result = Fetched(shown, response.status_code, response.headers, body)
    if response.status_code >= 400:
        snippet = body[:200].decode("utf-8", "replace").strip().replace("\n", " ")
        raise SourceError(f"{shown}: HTTP {response.status_code}" + (f": {snippet}" if snippet else ""))
    return result


def _read_body(response: httpx.Response, shown: str, max_bytes: int) -> bytes:
    chunks: list[bytes] = []
    size = 0
    for chunk in response.iter_bytes():
        size += len(chunk)
        if size > max_bytes:
            raise SourceError(
                f"{shown}: response larger than {max_bytes} bytes (raise max_bytes if that is expected)"
            )
        chunks.append(chunk)
    return b"".join(chunks)


def _transport_error(shown: str, exc: httpx.HTTPError) -> SourceError:
    """What went wrong on the way, said with what the user can do about it."""
    if isinstance(exc, httpx.TimeoutException):
        return SourceError(
            f"{shown}: timed out ({type(exc).__name__}); the source is slow or down, or raise timeout"
        )
    if isinstance(exc, httpx.ConnectError):
        return SourceError(f"{shown}: cannot connect ({_reason(exc)}); is the source up?")
    if isinstance(exc, httpx.RemoteProtocolError):
        return SourceError(f"{shown}: the response was cut short or malformed ({_reason(exc)})")
    return SourceError(f"{shown}: {type(exc).__name__}: {_reason(exc)}")


def json_body(response: Fetched) -> Any:
    """The response parsed as JSON, or a SourceError saying it was not JSON."""
    try:
        return json.loads(response.content)
    except (ValueError, UnicodeDecodeError) as exc:
        head = response.content[:60].decode("utf-8", "replace").replace("\n", " ")
        raise SourceError(f"{response.url}: answer is not JSON ({exc}); starts with {head!r}") from None


def _reason(exc: Exception) -> str:
    text = str(exc).strip() or type(exc).__name__
    return text.splitlines()[0][:200]
