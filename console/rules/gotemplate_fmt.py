"""Go's fmt for the values an alert template sees: `%v` printing and `Sprintf`.

Numbers print as Go prints a float64 (`22`, `0.1`, `1e+06`, `+Inf`, `NaN`); a verb that
does not fit its operand prints Go's `%!d(float64=22)`, a missing operand `%!d(MISSING)`.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

MAX_WIDTH = 4096  # a width or precision past this is refused (it would only pad)
MAX_STRING = 65536  # the longest string a function may build (the default bound on output)


class FuncError(Exception):
    """A template function's error: the template prints `error calling NAME: …`."""


@dataclass
class Sample:
    """One element of a `query` result (Prometheus's template `sample`)."""

    labels: dict[str, str]
    value: float


class QueryResult(list[Sample]):
    """What `query` returns (Prometheus's `queryResult`)."""


class AnyMap(dict[str, Any]):
    """A map of any values (what `args` returns): a missing key is nil, not ""."""


@dataclass
class Struct:
    """A Go struct value (the data of an alert template): its type name and fields."""

    type_name: str
    fields: dict[str, Any]


def type_name(value: Any) -> str:
    """The Go type of a template value, as fmt names it in `%!d(float64=22)`."""
    if value is None:
        return "<nil>"
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int):
        return "int"
    if isinstance(value, float):
        return "float64"
    if isinstance(value, str):
        return "string"
    if isinstance(value, AnyMap):
        return "map[string]interface {}"
    if isinstance(value, dict):
        return "map[string]string"
    if isinstance(value, Sample):
        return "*template.sample"
    if isinstance(value, QueryResult):
        return "template.queryResult"
    if isinstance(value, Struct):
        return value.type_name
    return type(value).__name__


def shortest_digits(value: float) -> tuple[str, int]:
    """The shortest digits that read back as abs(value), and the decimal point's place."""
    _, digits, exponent = Decimal(repr(abs(value))).as_tuple()
    text = "".join(map(str, digits)).rstrip("0")
    assert isinstance(exponent, int)
    exponent += len(digits) - len(text)
    return text or "0", len(text) + exponent if text else 1


def _exp_text(exp: int) -> str:
    return ("e-" if exp < 0 else "e+") + f"{abs(exp):02d}"


def format_float(value: float) -> str:
    """A float64 as Go's `%v` prints it (strconv's shortest 'g', exponent from 1e+06 and 1e-05)."""
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "+Inf" if value > 0 else "-Inf"
    sign = "-" if math.copysign(1.0, value) < 0 else ""
    if value == 0:
        return sign + "0"
    digits, dp = shortest_digits(value)
    exp = dp - 1
    if exp < -4 or exp >= 6:
        mantissa = digits[0] + ("." + digits[1:] if len(digits) > 1 else "")
        return sign + mantissa + _exp_text(exp)
    if dp <= 0:
        return sign + "0." + "0" * -dp + digits
    if dp >= len(digits):
        return sign + digits + "0" * (dp - len(digits))
    return sign + digits[:dp] + "." + digits[dp:]


def hex_float(value: float, upper: bool = False) -> str:
    """Go's `%x` of a float64: `0x1.6p+04`."""
    if math.isnan(value) or math.isinf(value):
        return format_float(value)
    mantissa, exp = value.hex().split("p")
    whole, _, frac = mantissa.partition(".")
    frac = frac.rstrip("0")
    exponent = int(exp)
    text = (
        whole + ("." + frac if frac else "") + "p" + ("-" if exponent < 0 else "+") + f"{abs(exponent):02d}"
    )
    return text.upper().replace("0X", "0X") if upper else text


def format_value(value: Any) -> str:
    """fmt's `%v` of a template value."""
    if value is None:
        return "<nil>"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return format_float(value)
    if isinstance(value, (int, str)):
        return str(value)
    if isinstance(value, dict):
        return "map[" + " ".join(f"{k}:{format_value(value[k])}" for k in sorted(value)) + "]"
    if isinstance(value, Sample):
        return "&{" + format_value(value.labels) + " " + format_value(value.value) + "}"
    if isinstance(value, list):
        return "[" + " ".join(format_value(v) for v in value) + "]"
    if isinstance(value, Struct):
        return "{" + " ".join(format_value(v) for v in value.fields.values()) + "}"
    return str(value)


_ESCAPES = {"\a": "\\a", "\b": "\\b", "\f": "\\f", "\n": "\\n", "\r": "\\r", "\t": "\\t", "\v": "\\v"}


def quote(text: str, mark: str = '"') -> str:
    """Go's strconv.Quote."""
    out = [mark]
    for ch in text:
        if ch == mark or ch == "\\":
            out.append("\\" + ch)
        elif ch in _ESCAPES:
            out.append(_ESCAPES[ch])
        elif ch.isprintable():
            out.append(ch)
        elif ord(ch) < 0x20 or ord(ch) == 0x7F:
            out.append(f"\\x{ord(ch):02x}")
        elif ord(ch) < 0x10000:
            out.append(f"\\u{ord(ch):04x}")
        else:
            out.append(f"\\U{ord(ch):08x}")
    return "".join([*out, mark])


def sprint(args: list[Any], line: bool = False) -> str:
    """fmt.Sprint (spaces between operands neither of which is a string) or Sprintln."""
    if line:
        return " ".join(format_value(a) for a in args) + "\n"
    out: list[str] = []
    for i, arg in enumerate(args):
        if i and not isinstance(arg, str) and not isinstance(args[i - 1], str):
            out.append(" ")
        out.append(format_value(arg))
    return "".join(out)


_SPEC = re.compile(r"%([-+# 0]*)(\d+|\*)?(\.(\d+|\*)?)?(.?)", re.S)


@dataclass
class _Verb:
    flags: str
    width: int | None
    prec: int | None
    verb: str

    def pad(self, text: str, numeric: bool = False) -> str:
        if self.width is None or len(text) >= self.width:
            return text
        if "-" in self.flags:
            return text.ljust(self.width)
        if numeric and "0" in self.flags:
            sign = text[0] if text[:1] in "+- " and text[:1] != "" else ""
            return sign + text[len(sign) :].rjust(self.width - len(sign), "0")
        return text.rjust(self.width)

    def pyspec(self, verb: str) -> str:
        flags = "".join(f for f in self.flags if f in "-+ 0#")
        width = "" if self.width is None else str(self.width)
        prec = "" if self.prec is None else f".{self.prec}"
        return f"%{flags}{width}{prec}{verb}"


def sprintf(fmt: str, args: list[Any]) -> str:
    """fmt.Sprintf for the verbs alert templates use, with Go's texts for misuse."""
    out: list[str] = []
    pos, used, size = 0, 0, 0
    while True:
        at = fmt.find("%", pos)
        if at < 0:
            out.append(fmt[pos:])
            break
        out.append(fmt[pos:at])
        m = _SPEC.match(fmt, at)
        assert m is not None
        flags, width, dot, prec, verb = m.groups()
        pos = m.end()
        if verb == "%":
            out.append("%")
            continue
        w, p, used = _sizes(width, prec if dot else None, dot is not None, args, used)
        if (w or 0) > MAX_WIDTH or (p or 0) > MAX_WIDTH:
            raise FuncError(f"width or precision over {MAX_WIDTH}")
        if not verb:
            out.append("%!(NOVERB)")
            continue
        if used >= len(args):
            out.append(f"%!{verb}(MISSING)")
            continue
        out.append(format_one(_Verb(flags, w, p, verb), args[used]))
        used += 1
        size += len(out[-1])  # (the literal text between verbs is no longer than the format)
        if size > MAX_STRING:
            raise FuncError(f"the result is longer than {MAX_STRING} characters")
    if used < len(args):
        extra = ", ".join(f"{type_name(a)}={format_value(a)}" for a in args[used:])
        out.append(f"%!(EXTRA {extra})")
    return "".join(out)


def _sizes(
    width: str | None, prec: str | None, dot: bool, args: list[Any], used: int
) -> tuple[int | None, int | None, int]:
    """A verb's width and precision (`*` takes an int operand); and the operands now used."""
    numbers: list[int | None] = []
    for part in (width, prec):
        if part == "*":
            star = args[used] if used < len(args) else None
            used += 1
            numbers.append(star if isinstance(star, int) and not isinstance(star, bool) else None)
        else:
            numbers.append(int(part) if part else None)
    w, p = numbers
    if dot and p is None and prec != "*":
        p = 0
    return w, p, used


def _bad(spec: _Verb, arg: Any) -> str:
    if arg is None:
        return f"%!{spec.verb}(<nil>)"
    return f"%!{spec.verb}({type_name(arg)}={format_value(arg)})"


def format_one(spec: _Verb, arg: Any) -> str:
    """One verb applied to one operand."""
    verb = spec.verb
    if verb == "v" and not isinstance(arg, float):
        return spec.pad(format_value(arg))
    if isinstance(arg, bool):
        return spec.pad(format_value(arg)) if verb == "t" else _bad(spec, arg)
    if isinstance(arg, int):
        return _format_int(spec, arg)
    if isinstance(arg, float):
        return _format_float(spec, arg)
    if isinstance(arg, str):
        return _format_str(spec, arg)
    if isinstance(arg, (dict, Sample, list, Struct)) and verb == "s":
        return spec.pad(format_value(arg))
    return _bad(spec, arg)


def _format_int(spec: _Verb, arg: int) -> str:
    verb = spec.verb
    if verb in "dxXob":
        return spec.pyspec(verb) % arg if verb != "b" else spec.pad(format(arg, "b"), True)
    if verb == "c":
        return spec.pad(chr(arg) if 0 <= arg <= 0x10FFFF else "\ufffd")
    if verb == "q":
        return spec.pad(quote(chr(arg), "'") if 0 <= arg <= 0x10FFFF else "'\ufffd'")
    if verb == "U":
        return spec.pad(f"U+{arg:04X}")
    if verb == "O":
        return spec.pad(("-" if arg < 0 else "") + f"0o{abs(arg):o}", True)
    if verb in "eEfFgG":
        return _bad(spec, arg)
    return _bad(spec, arg)


def _format_float(spec: _Verb, arg: float) -> str:
    verb = spec.verb
    if verb not in "veEfFgGxX":
        return _bad(spec, arg)
    if math.isnan(arg) or math.isinf(arg):
        text = "NaN" if math.isnan(arg) else ("+Inf" if arg > 0 else "-Inf")
        if math.isnan(arg) and ("+" in spec.flags):
            text = "+NaN"
        return _Verb(spec.flags.replace("0", ""), spec.width, None, verb).pad(text)
    if verb in "xX":
        text = hex_float(arg, verb == "X")
    elif verb in "vgG" and spec.prec is None:
        text = format_float(arg)
        text = text.upper() if verb == "G" else text
    else:
        py = "f" if verb == "F" else "g" if verb == "v" else verb
        text = _Verb(spec.flags.replace("-", "").replace("0", ""), None, spec.prec, py).pyspec(py) % arg
        return spec.pad(text, True)
    if "+" in spec.flags and not text.startswith("-"):
        text = "+" + text
    elif " " in spec.flags and not text.startswith("-"):
        text = " " + text
    return spec.pad(text, True)


def _format_str(spec: _Verb, arg: str) -> str:
    verb = spec.verb
    if verb == "s":
        return spec.pad(arg if spec.prec is None else arg[: spec.prec])
    if verb == "q":
        return spec.pad(quote(arg if spec.prec is None else arg[: spec.prec]))
    if verb in "xX":
        data = arg.encode()
        text = data.hex() if verb == "x" else data.hex().upper()
        return spec.pad(text)
    return _bad(spec, arg)
