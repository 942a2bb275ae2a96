"""promtool's way of printing: Go-quoted label sets, `%E` floats, Prometheus and Go durations,
and the exp/got blocks of a failed alert or expression test (cmd/promtool/unittest.go, 2.42)."""

from __future__ import annotations

import math
import unicodedata
from collections.abc import Mapping
from datetime import timedelta
from decimal import Decimal

_GO_ESCAPES = {"\a": "\\a", "\b": "\\b", "\f": "\\f", "\n": "\\n", "\r": "\\r", "\t": "\\t", "\v": "\\v"}


def go_quote(text: str) -> str:
    """Go's strconv.Quote: double quotes, backslash escapes, non-printable runes as \\x/\\u."""
    out = ['"']
    for char in text:
        if char in ('"', "\\"):
            out.append("\\" + char)
        elif char in _GO_ESCAPES:
            out.append(_GO_ESCAPES[char])
        elif char == " " or (char.isprintable() and unicodedata.category(char)[0] not in "CZ"):
            out.append(char)
        elif ord(char) < 0x80:
            out.append(f"\\x{ord(char):02x}")
        elif ord(char) <= 0xFFFF:
            out.append(f"\\u{ord(char):04x}")
        else:
            out.append(f"\\U{ord(char):08x}")
    out.append('"')
    return "".join(out)


def sorted_labels(labels: Mapping[str, str]) -> tuple[tuple[str, str], ...]:
    """A label set in Prometheus's order (by name); tuples compare as labels.Compare does."""
    return tuple(sorted(labels.items()))


def labels_text(labels: Mapping[str, str]) -> str:
    """labels.Labels.String(): `{a="1", b="2"}`, names sorted."""
    return "{" + ", ".join(f"{k}={go_quote(v)}" for k, v in sorted_labels(labels)) + "}"


def float_e(value: float | None) -> str:
    """strconv.FormatFloat(v, 'E', -1, 64): the shortest digits, `1.5E+01`; None is NaN."""
    if value is None or math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "+Inf" if value > 0 else "-Inf"
    sign, digits, exponent = Decimal(repr(value)).normalize().as_tuple()
    assert isinstance(exponent, int)  # finite
    text = "".join(map(str, digits))
    power = len(digits) - 1 + exponent if digits != (0,) else 0
    mantissa = text[0] + ("." + text[1:] if len(text) > 1 else "")
    return f"{'-' if sign else ''}{mantissa}E{'+' if power >= 0 else '-'}{abs(power):02d}"


def prom_duration(value: timedelta) -> str:
    """model.Duration.String(): `1h30m`, `90d`, `1w`, `0s` (years and weeks only when exact)."""
    ms = round(value.total_seconds() * 1000)
    if ms == 0:
        return "0s"
    text = ""
    for unit, size, exact in (
        ("y", 31_536_000_000, True),
        ("w", 604_800_000, True),
        ("d", 86_400_000, False),
        ("h", 3_600_000, False),
        ("m", 60_000, False),
        ("s", 1000, False),
        ("ms", 1, False),
    ):
        if exact and ms % size:
            continue
        if ms // size > 0:
            text += f"{ms // size}{unit}"
            ms -= (ms // size) * size
    return text


def go_duration(value: timedelta) -> str:
    """time.Duration.String() for whole milliseconds: `0s`, `500ms`, `1m30s`, `1h0m0s`, `1.5s`."""
    ms = round(value.total_seconds() * 1000)
    if ms == 0:
        return "0s"
    sign, ms = ("-" if ms < 0 else ""), abs(ms)
    if ms < 1000:
        return f"{sign}{ms}ms"
    hours, rest = divmod(ms, 3_600_000)
    minutes, rest = divmod(rest, 60_000)
    seconds = f"{rest // 1000}" + (f".{rest % 1000:03d}".rstrip("0") if rest % 1000 else "")
    if hours:
        return f"{sign}{hours}h{minutes}m{seconds}s"
    if minutes:
        return f"{sign}{minutes}m{seconds}s"
    return f"{sign}{seconds}s"


def _indent(text: str, prefix: str) -> str:
    """indentLines: every line after the first gets `prefix`."""
    lines = text.split("\n")
    return "\n".join([lines[0], *(prefix + line for line in lines[1:])])


Alert = tuple[dict[str, str], dict[str, str]]  # (labels, annotations)


def alerts_text(alerts: list[Alert]) -> str:
    """labelsAndAnnotations.String(): `[]`, or numbered Labels/Annotations blocks."""
    if not alerts:
        return "[]"
    parts = []
    for i, (labels, notes) in enumerate(alerts):
        block = f"Labels:{labels_text(labels)}\nAnnotations:{labels_text(notes)}"
        parts.append(f"{i}:" + _indent("\n" + block, "  "))
    return "[\n" + ",\n".join(parts) + "\n]"


def sort_alerts(alerts: list[Alert]) -> list[Alert]:
    return sorted(alerts, key=lambda a: (sorted_labels(a[0]), sorted_labels(a[1])))


def alert_failure(
    group: str, alertname: str, eval_time: timedelta, exp: list[Alert], got: list[Alert]
) -> str:
    """The error promtool prints when an alert test's firing alerts differ."""
    name = f"    name: {group},\n" if group else ""
    exp_text = _indent(alerts_text(exp), " " * 12)
    got_text = _indent(alerts_text(got), " " * 12)
    return (
        f"{name}    alertname: {alertname}, time: {prom_duration(eval_time)}, \n"
        f"        exp:{exp_text}, \n        got:{got_text}"
    )


Sample = tuple[dict[str, str], float | None]


def samples_text(samples: list[Sample]) -> str:
    """parsedSamplesString: `nil`, or `{labels} 1E+00, …`."""
    if not samples:
        return "nil"
    return ", ".join(f"{labels_text(labels)} {float_e(value)}" for labels, value in samples)


def sort_samples(samples: list[Sample]) -> list[Sample]:
    return sorted(samples, key=lambda s: sorted_labels(s[0]))


def expr_failure(expr: str, eval_time: timedelta, exp: list[Sample], got: list[Sample]) -> str:
    """The error promtool prints when an expression test's samples differ."""
    return (
        f"    expr: {go_quote(expr)}, time: {prom_duration(eval_time)},\n"
        f"        exp: {samples_text(exp)}\n        got: {samples_text(got)}"
    )


def expr_error(expr: str, eval_time: timedelta, error: str) -> str:
    return f"    expr: {go_quote(expr)}, time: {prom_duration(eval_time)}, err: {error}"


def rule_error(rule: str, at: timedelta, error: str) -> str:
    """A rule that failed to evaluate during the run (promtool stops at the first step with one)."""
    return f"    rule: {rule}, time: {go_duration(at)}, err: {error}"
