"""The functions an alert template may call: Go's built-ins and Prometheus's template functions.

Each is declared with its Go parameter types, so a wrong operand fails as it does in
Prometheus ("wrong type for value; expected string; got float64"); the bodies follow
prometheus/template/template.go and prometheus/common's helpers/templates.
"""

from __future__ import annotations

import functools
import html
import math
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import quote_plus

import re2

from console.rules.gotemplate_fmt import (
    MAX_STRING,
    AnyMap,
    FuncError,
    QueryResult,
    Sample,
    sprint,
    sprintf,
    type_name,
)


@dataclass(frozen=True)
class Func:
    fn: Callable[..., Any]
    params: tuple[str, ...]  # Go kinds: any, string, float, sample, result
    variadic: str | None = None
    context: bool = False  # fn takes the render's context first (query, now, URLs)


# -- numbers ------------------------------------------------------------------------

_DECIMAL = re.compile(r"[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?")
_HEX = re.compile(r"[+-]?0[xX](?:[0-9a-fA-F]+\.?[0-9a-fA-F]*|\.[0-9a-fA-F]+)[pP][+-]?\d+")
_SPECIAL = {"inf": math.inf, "+inf": math.inf, "-inf": -math.inf, "infinity": math.inf}


def parse_float(text: str) -> float:
    """Go's strconv.ParseFloat(text, 64)."""
    lower = text.lower()
    if lower in _SPECIAL or lower in ("+infinity", "-infinity"):
        return -math.inf if lower.startswith("-") else math.inf
    if lower in ("nan", "+nan", "-nan"):
        return math.nan
    if _DECIMAL.fullmatch(text):
        value = float(text)
    elif _HEX.fullmatch(text):
        value = float.fromhex(text)
    else:
        raise FuncError(f'strconv.ParseFloat: parsing "{text}": invalid syntax')
    if math.isinf(value):
        raise FuncError(f'strconv.ParseFloat: parsing "{text}": value out of range')
    return value


def to_float(value: Any) -> float:
    """prometheus/common's ConvertToFloat."""
    if isinstance(value, bool):
        raise FuncError("can't convert bool to float")
    if isinstance(value, (int, float)):
        return float(value)
    if isinstance(value, str):
        return parse_float(value)
    raise FuncError(f"can't convert {type_name(value)} to float")


def _g4(value: float) -> str:
    return sprintf("%.4g", [value])


def humanize(value: Any) -> str:
    v = to_float(value)
    if v == 0 or math.isnan(v) or math.isinf(v):
        return _g4(v)
    prefix = ""
    if abs(v) >= 1:
        for p in ("k", "M", "G", "T", "P", "E", "Z", "Y"):
            if abs(v) < 1000:
                break
            prefix, v = p, v / 1000
        return _g4(v) + prefix
    for p in ("m", "u", "n", "p", "f", "a", "z", "y"):
        if abs(v) >= 1:
            break
        prefix, v = p, v * 1000
    return _g4(v) + prefix


def humanize1024(value: Any) -> str:
    v = to_float(value)
    if abs(v) <= 1 or math.isnan(v) or math.isinf(v):
        return _g4(v)
    prefix = ""
    for p in ("ki", "Mi", "Gi", "Ti", "Pi", "Ei", "Zi", "Yi"):
        if abs(v) < 1024:
            break
        prefix, v = p, v / 1024
    return _g4(v) + prefix


def humanize_duration(value: Any) -> str:
    v = to_float(value)
    if math.isnan(v) or math.isinf(v):
        return _g4(v)
    if v == 0:
        return _g4(v) + "s"
    if abs(v) >= 1:
        sign = "-" if v < 0 else ""
        v = abs(v)
        whole = int(v) if v < 2**63 else -(2**63)  # Go's int64() of a float past the range (amd64)
        seconds, minutes = _rem(whole, 60), _rem(_quo(whole, 60), 60)
        hours, days = _rem(_quo(whole, 3600), 24), _quo(whole, 86400)
        if days:
            return f"{sign}{days}d {hours}h {minutes}m {seconds}s"
        if hours:
            return f"{sign}{hours}h {minutes}m {seconds}s"
        if minutes:
            return f"{sign}{minutes}m {seconds}s"
        return f"{sign}{_g4(v)}s"
    prefix = ""
    for p in ("m", "u", "n", "p", "f", "a", "z", "y"):
        if abs(v) >= 1:
            break
        prefix, v = p, v * 1000
    return f"{_g4(v)}{prefix}s"


def _quo(a: int, b: int) -> int:
    """Go's integer division (truncates toward zero)."""
    q = abs(a) // abs(b)
    return q if (a < 0) == (b < 0) else -q


def _rem(a: int, b: int) -> int:
    return a - b * _quo(a, b)


def humanize_percentage(value: Any) -> str:
    return sprintf("%.4g%%", [to_float(value) * 100])


def humanize_timestamp(value: Any) -> str:
    v = to_float(value)
    if math.isnan(v) or math.isinf(v):
        return _g4(v)
    nanos = v * 1e9
    if not -(2**63) <= nanos < 2**63:
        raise FuncError(
            f"{sprint([v])} cannot be represented as a nanoseconds timestamp since it overflows int64"
        )
    seconds, fraction = divmod(int(nanos), 10**9)
    moment = datetime(1970, 1, 1, tzinfo=UTC) + timedelta(seconds=seconds)
    frac = f".{fraction:09d}".rstrip("0") if fraction else ""
    return moment.strftime("%Y-%m-%d %H:%M:%S") + frac + " +0000 UTC"


_DURATION = re.compile(r"(?:(\d+)y)?(?:(\d+)w)?(?:(\d+)d)?(?:(\d+)h)?(?:(\d+)m)?(?:(\d+)s)?(?:(\d+)ms)?")
_UNITS = (365 * 86400, 7 * 86400, 86400, 3600, 60, 1, 0.001)


def parse_duration(text: str) -> float:
    """Prometheus's ParseDurationAllowNegative, in seconds."""
    sign, body = (-1, text[1:]) if text.startswith("-") else (1, text)
    m = _DURATION.fullmatch(body)
    if body == "0":
        return 0.0
    if not body or m is None or not any(m.groups()):
        raise FuncError(f"not a valid duration string: {quote_go(text)}")
    return sign * sum(int(g) * unit for g, unit in zip(m.groups(), _UNITS, strict=True) if g)


def quote_go(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


# -- strings and regexes ------------------------------------------------------------

_RE2_OPTIONS = re2.Options()
_RE2_OPTIONS.log_errors = False


@functools.lru_cache(maxsize=256)
def _regex(pattern: str) -> Any:
    try:
        return re2.compile(pattern, options=_RE2_OPTIONS)
    except re2.error as exc:
        reason = (
            exc.args[0].decode(errors="replace") if exc.args and isinstance(exc.args[0], bytes) else str(exc)
        )
        raise FuncError(f"regexp: Compile({quote_go(pattern)}): error parsing regexp: {reason}") from None


_GROUP_REF = re.compile(r"\$(?:\{([A-Za-z0-9_]*)\}|([A-Za-z0-9_]+)|(\$))")


def _expand(template: str, match: Any) -> str:
    """Go's Regexp.Expand: `$1`, `${1}`, `$name`, `${name}`, `$$`; an unknown group is empty."""

    def one(ref: re.Match[str]) -> str:
        if ref.group(3):
            return "$"
        name = ref.group(1) if ref.group(1) is not None else ref.group(2)
        try:
            group = match.group(int(name)) if name.isdigit() else match.group(name)
        except (IndexError, KeyError, ValueError):
            return ""
        return group or ""

    return _GROUP_REF.sub(one, template)


def re_replace_all(pattern: str, repl: str, text: str) -> str:
    """regexp.MustCompile(pattern).ReplaceAllString(text, repl)."""
    regex = _regex(pattern)
    out: list[str] = []
    pos, last_end, searched, size = 0, -1, 0, 0
    while searched <= len(text):
        match = regex.search(text, searched)
        if match is None:
            break
        start, end = match.start(), match.end()
        if start == end and start == last_end:  # an empty match right after a match is skipped
            searched = start + 1
            continue
        out.append(text[pos:start])
        out.append(_expand(repl, match))
        size += len(out[-1]) + len(out[-2])
        if size > MAX_STRING:
            raise FuncError(f"the result is longer than {MAX_STRING} characters")
        pos, last_end = end, end
        searched = end if end > start else end + 1
    out.append(text[pos:])
    return "".join(out)


def match(pattern: str, text: str) -> bool:
    return _regex(pattern).search(text) is not None


def _each_rune(text: str, fn: Callable[[str], str]) -> str:
    return "".join(c2 if len(c2 := fn(c)) == 1 else c for c in text)


def title(text: str) -> str:
    """strings.Title: the first letter of each word in upper case."""
    out, previous = [], " "
    for ch in text:
        separator = not (previous.isalnum() or previous == "_")
        out.append(_each_rune(ch, str.upper) if separator and ch.isalpha() else ch)
        previous = ch
    return "".join(out)


def _split_host_port(host_port: str) -> tuple[str, str] | None:
    if host_port.startswith("["):
        close = host_port.find("]")
        if close < 0 or not host_port[close + 1 :].startswith(":"):
            return None
        return host_port[1:close], host_port[close + 2 :]
    if host_port.count(":") != 1:
        return None
    host, _, port = host_port.partition(":")
    return host, port


def strip_port(host_port: str) -> str:
    split = _split_host_port(host_port)
    return split[0] if split else host_port


def strip_domain(host_port: str) -> str:
    split = _split_host_port(host_port)
    host, port = split if split else (host_port, "")
    if _is_ip(host):
        return host_port
    host = host.split(".")[0]
    return (f"[{host}]:{port}" if ":" in host else f"{host}:{port}") if port else host


def _is_ip(host: str) -> bool:
    import ipaddress

    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True


# -- query results ------------------------------------------------------------------


def first(result: QueryResult) -> Sample:
    if not result:
        raise FuncError("first() called on vector with no elements")
    return result[0]


def sort_by_label(label: str, result: QueryResult) -> QueryResult:
    return QueryResult(sorted(result, key=lambda s: s.labels.get(label, "")))


def _args(*values: Any) -> AnyMap:
    return AnyMap({f"arg{i}": v for i, v in enumerate(values)})


def _unsupported(name: str) -> Func:
    def fail(*_: Any) -> Any:
        raise FuncError(f"{name} is not supported by oncall's templates")

    return Func(fail, (), "any")


PROMETHEUS: dict[str, Func] = {
    "first": Func(first, ("result",)),
    "label": Func(lambda label, s: s.labels.get(label, ""), ("string", "sample")),
    "value": Func(lambda s: s.value, ("sample",)),
    "strvalue": Func(lambda s: s.labels.get("__value__", ""), ("sample",)),
    "args": Func(_args, (), "any"),
    "reReplaceAll": Func(re_replace_all, ("string", "string", "string")),
    "safeHtml": Func(lambda text: text, ("string",)),
    "match": Func(match, ("string", "string")),
    "title": Func(title, ("string",)),
    "toUpper": Func(lambda text: _each_rune(text, str.upper), ("string",)),
    "toLower": Func(lambda text: _each_rune(text, str.lower), ("string",)),
    "sortByLabel": Func(sort_by_label, ("string", "result")),
    "stripPort": Func(strip_port, ("string",)),
    "stripDomain": Func(strip_domain, ("string",)),
    "humanize": Func(humanize, ("any",)),
    "humanize1024": Func(humanize1024, ("any",)),
    "humanizeDuration": Func(humanize_duration, ("any",)),
    "humanizePercentage": Func(humanize_percentage, ("any",)),
    "humanizeTimestamp": Func(humanize_timestamp, ("any",)),
    "parseDuration": Func(parse_duration, ("string",)),
    "urlQueryEscape": Func(lambda text: quote_plus(text, safe=""), ("string",)),
    "toTime": _unsupported("toTime"),
    "toDuration": _unsupported("toDuration"),
    "graphLink": _unsupported("graphLink"),
    "tableLink": _unsupported("tableLink"),
}


def html_escape(*values: Any) -> str:
    return html.escape(sprint(list(values))).replace("&#x27;", "&#39;").replace("&quot;", "&#34;")


BUILTINS: dict[str, Func] = {
    "print": Func(lambda *a: sprint(list(a)), (), "any"),
    "println": Func(lambda *a: sprint(list(a), line=True), (), "any"),
    "printf": Func(lambda fmt, *a: sprintf(fmt, list(a)), ("string",), "any"),
    "html": Func(html_escape, (), "any"),
    "urlquery": Func(lambda *a: quote_plus(sprint(list(a)), safe=""), (), "any"),
    "js": _unsupported("js"),
    "slice": _unsupported("slice"),
    "call": _unsupported("call"),
}
# and, or, not, len, index, eq, ne, lt, le, gt, ge, and the render's own (query, now,
# externalURL, pathPrefix) are evaluated by the executor.
SPECIAL = ("and", "or", "not", "len", "index", "eq", "ne", "lt", "le", "gt", "ge")
CONTEXT = ("query", "now", "externalURL", "pathPrefix")
NAMES = frozenset((*PROMETHEUS, *BUILTINS, *SPECIAL, *CONTEXT))
