"""Printing rows as a table, JSON or CSV for the read commands' `--format`.

Values come from outside (labels, log lines, server answers), so none reaches the terminal
raw: a table or CSV cell is one line with its control characters shown escaped, and JSON
carries them only as JSON escapes, so it decodes to the exact value (see
`console.core.terminal`).
"""

from __future__ import annotations

import csv
import io
import json
import math
import re
from collections.abc import Callable, Sequence
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any

from console.core.terminal import escape, escape_text

FORMATS = ("table", "json", "csv")


def _iso(value: date) -> str:
    return value.isoformat() + ("Z" if isinstance(value, datetime) and value.tzinfo is None else "")


def _finite(value: float) -> float | None:
    return value if math.isfinite(value) else None


def _hex(value: bytes | bytearray) -> str:
    return value.hex()


def _json_dict(value: dict[Any, Any]) -> dict[str, Any]:
    return {str(k): _jsonable(v) for k, v in value.items()}


def _json_list(value: Sequence[Any]) -> list[Any]:
    return [_jsonable(v) for v in value]


# checked in order: a datetime is also a date
_JSON_CONVERSIONS: tuple[tuple[type | tuple[type, ...], Callable[[Any], Any]], ...] = (
    (date, _iso),
    (timedelta, timedelta.total_seconds),
    (Decimal, float),
    (float, _finite),
    ((bytes, bytearray), _hex),
    (dict, _json_dict),
    ((list, tuple), _json_list),
)


def _jsonable(value: Any) -> Any:
    for kinds, convert in _JSON_CONVERSIONS:
        if isinstance(value, kinds):
            return convert(value)
    return value


def cell(value: Any) -> str:
    """One value as table text on one line: no NaN, inf or control character reaches the screen."""
    if value is None:
        return ""
    if isinstance(value, float):
        if math.isnan(value):
            return "no data"
        if math.isinf(value):
            return "∞" if value > 0 else "-∞"
        return f"{value:.6g}"
    if isinstance(value, datetime):
        return value.strftime("%Y-%m-%d %H:%M:%S")
    return escape(value)


_PARTIAL_ESCAPE = re.compile(r"\\(x[0-9a-f]?|u[0-9a-f]{0,3})?$")


def _cut(text: str, width: int) -> str:
    """`text` cut to `width`, without leaving half an escape (`\\x1`) at the end."""
    return text if len(text) <= width else _PARTIAL_ESCAPE.sub("", text[:width])


def render_table(columns: Sequence[str], rows: Sequence[Sequence[Any]], max_width: int = 60) -> str:
    """Columns padded to their widest cell (cut at `max_width`) under upper-case headings."""
    columns = [escape(c) for c in columns]
    cells = [[_cut(cell(v), max_width) for v in row] for row in rows]
    widths = _widths(columns, cells)
    lines = ["  ".join(c.upper().ljust(w) for c, w in zip(columns, widths)).rstrip()]
    lines += ["  ".join(t.ljust(w) for t, w in zip(row, widths)).rstrip() for row in cells]
    return "\n".join(lines)


def _widths(columns: Sequence[str], cells: list[list[str]]) -> list[int]:
    """Each column's widest text, its heading included."""
    widths = [len(c) for c in columns]
    for row in cells:
        for i, text in enumerate(row):
            widths[i] = max(widths[i], len(text))
    return widths


def render(columns: Sequence[str], rows: Sequence[Sequence[Any]], fmt: str) -> str:
    """The rows in `fmt`: an aligned table, JSON (a list of objects) or CSV."""
    if fmt == "json":
        return dumps([dict(zip(columns, row)) for row in rows])
    if fmt == "csv":
        return _render_csv(columns, rows)
    return render_table(columns, rows)


def _render_csv(columns: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(columns)
    for row in rows:
        writer.writerow([escape(v) if isinstance(v, str) else _jsonable(v) for v in row])
    return escape_text(buf.getvalue().rstrip("\n"))


def _orjson_default(value: Any) -> Any:
    """What orjson does not encode itself, as `_jsonable` converts it (a float subclass such as
    numpy's float64 included: orjson takes only exact floats)."""
    if isinstance(value, float):
        return _finite(float(value))
    if isinstance(value, (timedelta, Decimal, bytes, bytearray)):
        return _jsonable(value)
    raise TypeError(f"{type(value).__name__} is not JSON serializable")


def dumps(data: Any) -> str:
    """`data` as indented JSON; non-ASCII text stays readable, control characters are escapes.

    Encoded by orjson (a large answer, e.g. 1,000 SLOs' status, is several times faster than
    the standard library's encoder): NaN and inf are null, a naive time is UTC with `Z`. What
    orjson refuses (a key that is not text, an integer past 64 bits) goes through the standard
    library with the same conversions, so every value still comes out."""
    import orjson

    option = orjson.OPT_INDENT_2 | orjson.OPT_NAIVE_UTC | orjson.OPT_UTC_Z
    try:
        text = orjson.dumps(data, default=_orjson_default, option=option).decode()
    except orjson.JSONEncodeError:
        text = json.dumps(_jsonable(data), indent=2, ensure_ascii=False)
    return escape_text(text)
