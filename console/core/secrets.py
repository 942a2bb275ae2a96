"""Secrets kept out of every text we show or store: masked URLs and redacted secret values.

A URL's userinfo (`user:pw@`) and the values of its query parameters named like a secret
(`?token=`, `api_key=`, `X-Amz-Signature=` …) become `***`.  Every secret value the
console resolves (a password, a token, a header value, the secret parts of a source URL) is
remembered for the life of the process, so `redact` can take it out of any text, such as a
server's error page that echoes the request's `Authorization` header.
"""

from __future__ import annotations

import base64
import logging
import re
import threading
from collections.abc import Iterable
from urllib.parse import quote, unquote, urlsplit, urlunsplit

MASK = "***"
MIN_SECRET = 4  # shorter values are not searched for: they would mangle every line
_SECRET_NAME = re.compile(r"token|key|secret|password|passwd|pwd|auth|credential|signature", re.IGNORECASE)
_URL = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*://[^\s'\"<>(){}|\\^`]+")
# an auth scheme followed by something token-like (with a digit or a symbol, 8+ characters)
_SCHEME_TOKEN = re.compile(r"\b(Bearer|Basic)\s+(?=[A-Za-z]*[0-9._~+/=-])[A-Za-z0-9._~+/=-]{8,}")

_known: set[str] = set()
_lock = threading.Lock()


def is_secret_name(name: str) -> bool:
    """Whether a parameter, header or option name says its value is a secret."""
    return bool(_SECRET_NAME.search(name))


def secret_option(name: object) -> bool:
    """Whether a configuration key holds (or leads to) a credential: never echo its value."""
    return isinstance(name, str) and (
        name in ("headers", "basic_auth", "authorization") or is_secret_name(name)
    )


def remember(values: Iterable[str | None]) -> None:
    """Add secret values (and their URL-encoded forms) to those `redact` takes out."""
    fresh = set()
    for value in values:
        if value and len(value) >= MIN_SECRET:
            fresh |= {value, quote(value, safe=""), quote(value, safe="/:@")}
    with _lock:
        _known.update(fresh)


def basic_token(username: str, password: str) -> str:
    """The base64 token of an HTTP Basic `Authorization` header."""
    return base64.b64encode(f"{username}:{password}".encode()).decode("ascii")


def url_secrets(url: str) -> list[str]:
    """The secret parts of a URL: its userinfo password and basic token, secret query values."""
    try:
        parts = urlsplit(url)
        username, password = parts.username, parts.password
    except ValueError:
        return []
    found = _userinfo_secrets(username, password)
    for name, value in _query_pairs(parts.query):
        if value and is_secret_name(unquote(name)):
            found += [value, unquote(value.replace("+", " "))]
    return found


def _userinfo_secrets(username: str | None, password: str | None) -> list[str]:
    if password is not None:
        return [password, unquote(password), basic_token(unquote(username or ""), unquote(password))]
    if username:
        return [username, unquote(username)]  # a token passed as the user name
    return []


def _query_pairs(query: str) -> list[tuple[str, str | None]]:
    pairs: list[tuple[str, str | None]] = []
    for item in query.split("&") if query else []:
        name, sep, value = item.partition("=")
        pairs.append((name, value if sep else None))
    return pairs


def mask_url(url: str) -> str:
    """The URL with its userinfo and its secret-named query values shown as `***`."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return MASK
    pairs = _query_pairs(parts.query)
    secret = [value is not None and is_secret_name(unquote(name)) for name, value in pairs]
    if "@" not in parts.netloc and not any(secret):
        return url
    netloc = parts.netloc
    if "@" in netloc:
        netloc = MASK + "@" + netloc.rpartition("@")[2]
    query = "&".join(_query_item(name, value, hidden) for (name, value), hidden in zip(pairs, secret))
    return urlunsplit((parts.scheme, netloc, parts.path, query, parts.fragment))


def _query_item(name: str, value: str | None, hidden: bool) -> str:
    return name if value is None else f"{name}={MASK if hidden else value}"


def mask_urls(text: str) -> str:
    """`text` with every URL in it masked (and nothing else changed)."""
    return _URL.sub(_masked_match, text)


def redact(text: str, secrets: Iterable[str] = ()) -> str:
    """`text` with every URL masked and every remembered (or given) secret value as `***`."""
    text = mask_urls(str(text))
    with _lock:
        values = _known | {s for s in secrets if s and len(s) >= MIN_SECRET}
    for value in sorted(values, key=len, reverse=True):
        if value in text:
            text = text.replace(value, MASK)
    return _SCHEME_TOKEN.sub(lambda match: f"{match.group(1)} {MASK}", text)


def _masked_match(match: re.Match[str]) -> str:
    """A URL found in text, masked; punctuation that ends the sentence stays outside it."""
    found = match.group()
    url = found.rstrip(".,;:!?")
    return mask_url(url) + found[len(url) :]


class RedactingFormatter(logging.Formatter):
    """A log formatter whose lines (tracebacks included) pass through `redact`."""

    def format(self, record: logging.LogRecord) -> str:
        return redact(super().format(record))
