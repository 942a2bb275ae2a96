"""Prometheus / OpenMetrics text for `oncall import`, read in bulk.

The file is cut into chunks of whole lines.  A chunk whose every line is a comment, empty,
or `name{labels} value timestamp` with single spaces, good labels and numbers is parsed by
Arrow's CSV reader (space-delimited) into three columns, its series resolved once per
distinct `name{labels}` text: nothing per line runs in Python.  Any other chunk (a bad
line, a space inside a label value, an exemplar, tabs) is parsed line by line in DuckDB,
which names each refused line by its number.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv

from console.store.import_lines import parse_label_block
from console.store.ingest import canonical_labels

_READ_BLOCK = 16 << 20
_NAME = re.compile(r"[a-zA-Z_:][a-zA-Z0-9_:]*")
_TS_LIMIT = 2**62  # µs; a time beyond is left to the line-by-line path, which refuses what DuckDB cannot hold


@dataclass
class Chunk:
    """Whole lines of the file: numbers `first` to `last` (1-based, inclusive)."""

    first: int
    last: int
    data: bytes


@dataclass
class Samples:
    """Samples of one chunk: each distinct series once, then per sample its series' index,
    time (µs since the epoch) and value."""

    series: list[tuple[str, str]]
    index: np.ndarray
    ts_us: np.ndarray
    values: np.ndarray


def text_chunks(path: Path, start_line: int, batch_lines: int) -> Iterator[Chunk]:
    """The file's lines after the first `start_line`, `batch_lines` at a time."""
    line = 0  # lines before `parts`
    parts: list[bytes] = []  # read, not given yet
    counts: list[int] = []  # the newlines in each part
    with open(path, "rb") as fh:
        while block := fh.read(_READ_BLOCK):
            parts.append(block)
            counts.append(block.count(b"\n"))
            while sum(counts) >= (need := start_line - line if line < start_line else batch_lines):
                data = _take_lines(parts, counts, need)
                if line >= start_line:
                    yield Chunk(line + 1, line + need, data)
                line += need
    tail = b"".join(parts)
    if tail and line >= start_line:
        yield Chunk(line + 1, line + sum(counts) + (not tail.endswith(b"\n")), tail)


def _take_lines(parts: list[bytes], counts: list[int], lines: int) -> bytes:
    """The first `lines` lines of `parts` (`counts` newlines each), taken out of both."""
    seen = 0
    for k, (part, count) in enumerate(zip(parts, counts)):
        if seen + count >= lines:
            cut = _after_newline(part, lines - seen, count) + 1
            taken = b"".join([*parts[:k], part[:cut]])
            parts[: k + 1] = [part[cut:]]
            counts[: k + 1] = [count - (lines - seen)]
            return taken
        seen += count
    raise ValueError("fewer lines than asked for")


def _after_newline(data: bytes, nth: int, count: int) -> int:
    """The offset of the `nth` newline (1-based) in `data`, which holds `count` of them: a
    guess from the mean line length, counted and then walked to."""
    at = min(len(data) - 1, len(data) * nth // count)
    have = data.count(b"\n", 0, at)  # newlines before `at`
    if abs(have - nth) > 4096:  # lines of very uneven length: every newline's offset
        return int(np.flatnonzero(np.frombuffer(data, np.uint8) == 10)[nth - 1])
    while have < nth:  # the newline at or after `at` is the (have + 1)-th
        at = data.index(b"\n", at) + 1
        have += 1
    while have >= nth:  # walk back until the nth newline is the last one before `at`
        at = data.rindex(b"\n", 0, at)
        if have == nth:
            return at
        have -= 1
    raise AssertionError("unreachable")


class _NotPlain(Exception):
    """A chunk holds a line the bulk reader does not take: parse it line by line."""


class FastParser:
    """The bulk path; `parse` gives None for a chunk the line-by-line path must read."""

    def __init__(self, seconds: bool) -> None:
        self.scale = 1_000_000 if seconds else 1_000
        # `name{labels}` text -> (name, canonical labels); None: a comment; absent: not seen
        self.keys: dict[str, tuple[str, str] | None] = {}

    def parse(self, chunk: Chunk) -> Samples | None:
        data = chunk.data
        if b"\r" in data and data.count(b"\r") != data.count(b"\r\n"):
            return None  # a lone carriage return: the line-by-line path says which line
        try:
            table = pacsv.read_csv(
                pa.py_buffer(data),
                read_options=pacsv.ReadOptions(column_names=["key", "value", "ts"], block_size=4 << 20),
                parse_options=pacsv.ParseOptions(
                    delimiter=" ",
                    quote_char=False,
                    escape_char=False,
                    ignore_empty_lines=True,
                    invalid_row_handler=_comment_or_stop,
                ),
                convert_options=pacsv.ConvertOptions(
                    column_types={"key": pa.string(), "value": pa.float64(), "ts": pa.float64()},
                    null_values=[],
                    strings_can_be_null=False,
                    quoted_strings_can_be_null=False,
                ),
            )
            return self._samples(table)
        except (pa.ArrowInvalid, _NotPlain):
            return None

    def _samples(self, table: pa.Table) -> Samples:
        keys = pc.dictionary_encode(table.column("key")).combine_chunks()
        texts = keys.dictionary.to_pylist()
        series = [self._series(text) for text in texts]
        index = keys.indices.to_numpy(zero_copy_only=False)
        values = table.column("value").to_numpy()
        ts = table.column("ts").to_numpy()
        kept = [i for i, s in enumerate(series) if s is not None]
        if len(kept) < len(series):  # comment lines of three words (`# TYPE name`): dropped
            rows = np.array([s is not None for s in series])[index]
            renumber = np.full(len(series), -1, np.int64)
            renumber[kept] = np.arange(len(kept))
            index, values, ts = renumber[index[rows]], values[rows], ts[rows]
        return Samples(
            [s for s in series if s is not None], index.astype(np.int64), _rounded(ts * self.scale), values
        )

    def _series(self, text: str) -> tuple[str, str] | None:
        """A `name{labels}` text's series; None for a comment; _NotPlain for anything else."""
        if text in self.keys:
            return self.keys[text]
        if text.startswith("#"):
            self.keys[text] = None
            return None
        brace = text.find("{")
        name, block = (text, "") if brace < 0 else (text[:brace], text[brace:])
        if not _NAME.fullmatch(name) or (block and not block.endswith("}")):
            raise _NotPlain(text)
        try:
            labels = canonical_labels(parse_label_block(block)) if block else canonical_labels({})
        except ValueError:
            raise _NotPlain(text) from None
        self.keys[text] = (name, labels)
        return self.keys[text]


def _comment_or_stop(row: Any) -> str:
    """Arrow's call for a line that is not three words: a comment is skipped, anything else
    stops the bulk read of the chunk."""
    return "skip" if row.text.startswith("#") else "error"


def _rounded(scaled: np.ndarray) -> np.ndarray:
    """µs from scaled times, rounded half away from zero as DuckDB's round(); _NotPlain for a
    time that is not finite or beyond what a TIMESTAMP holds."""
    with np.errstate(invalid="ignore"):
        whole = np.trunc(scaled)
        whole += np.where(np.abs(scaled - whole) >= 0.5, np.sign(scaled), 0)
        if not bool(np.all(np.abs(whole) < _TS_LIMIT)):  # NaN and ±inf compare false too
            raise _NotPlain("timestamp")
    return whole.astype(np.int64)


def lines_table(chunk: Chunk) -> pa.Table:
    """A chunk as table (lineno, line) for the line-by-line path; UnicodeDecodeError when it
    is not UTF-8."""
    text = chunk.data.decode("utf-8")
    lines = text.split("\n")
    if text.endswith("\n"):
        lines.pop()
    lines = [line[:-1] if line.endswith("\r") else line for line in lines]
    return pa.table(
        {
            "lineno": np.arange(chunk.first, chunk.first + len(lines), dtype=np.int64),
            "line": pa.array(lines, pa.string()),
        }
    )


# name, optional {label block}, value, optional timestamp, optional exemplar.
_SAMPLE_RE = (
    r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(?:[^"}]|"(?:[^"\\]|\\.)*")*\})?'
    r"[ \t]+(\S+)(?:[ \t]+([^ \t#]+))?[ \t]*(?:#.*)?$"
)


def parse_lines(
    con: Any, lines: pa.Table, scale: int, label_cache: dict[str, str | Exception]
) -> tuple[list[tuple[int, str]], Samples]:
    """The line-by-line path, in DuckDB on `con`: the refused lines (number, why) and the
    samples of table `lines` (lineno, line); `scale` µs per unit of the file's timestamps;
    `label_cache` holds the label blocks parsed so far."""
    con.register("lines", lines)
    try:
        _parse_text_lines(con, scale)
        _register_label_maps(con, label_cache)
        skips = con.execute("""
            SELECT t.lineno, CASE
                WHEN t.name = '' THEN 'not a sample line: ' || left((SELECT line FROM lines l WHERE l.lineno = t.lineno), 60)
                WHEN b.why IS NOT NULL THEN b.why
                WHEN t.value IS NULL THEN 'value is not a number: ' || left(t.value_text, 30)
                WHEN t.ts_text = '' THEN 'no timestamp (import needs one per sample)'
                ELSE 'bad timestamp: ' || left(t.ts_text, 30) END
            FROM typed t LEFT JOIN bad_label_map b ON b.raw = t.raw_labels
            WHERE t.name = '' OR b.why IS NOT NULL OR t.value IS NULL OR t.ts_us IS NULL
            ORDER BY t.lineno
        """).fetchall()
        samples = con.sql("""
            SELECT t.name || l.labels AS key, t.ts_us, t.value
            FROM typed t JOIN label_map l ON l.raw = t.raw_labels
            WHERE t.name <> '' AND t.value IS NOT NULL AND t.ts_us IS NOT NULL
        """).to_arrow_table()
    finally:
        con.unregister("lines")
    keys = pc.dictionary_encode(samples.column("key")).combine_chunks()
    series = []
    for text in keys.dictionary.to_pylist():  # a name has no `{`; canonical labels start with one
        brace = text.index("{")
        series.append((text[:brace], text[brace:]))
    return skips, Samples(
        series,
        keys.indices.to_numpy(zero_copy_only=False).astype(np.int64),
        samples.column("ts_us").to_numpy(),
        samples.column("value").to_numpy(),
    )


def _parse_text_lines(con: Any, scale: int) -> None:
    """Table `typed` from table `lines`: each sample line's name, label block, value and
    timestamp (µs; `scale` per second of the file's timestamps)."""
    # Fast path: `name{labels} value ts` split on single spaces; anything else
    # (spaces in label values, tabs, exemplars, leading blanks) takes the regex.
    con.execute("""
        CREATE OR REPLACE TEMP TABLE split AS
        WITH s AS (SELECT lineno, string_split(line, ' ') AS parts FROM lines
                   WHERE line <> '' AND NOT starts_with(line, '#'))
        SELECT lineno, parts, len(parts) = 3 AND (strpos(parts[1], '{') = 0
                              OR ends_with(parts[1], '}')) AS fast
        FROM s
    """)
    con.execute(f"""
        CREATE OR REPLACE TEMP TABLE parsed AS
        WITH good AS (
            SELECT lineno, parts[1] AS nl, strpos(parts[1], '{{') AS ob,
                   parts[2] AS value, parts[3] AS ts
            FROM split WHERE fast
        ), slow AS (
            SELECT l.lineno, regexp_extract(l.line, '{_SAMPLE_RE.replace("'", "''")}',
                   ['name', 'labels', 'value', 'ts']) AS m
            FROM lines l SEMI JOIN split s ON s.lineno = l.lineno AND NOT s.fast
            WHERE true
              AND NOT starts_with(ltrim(l.line), '#') AND trim(l.line) <> ''
        )
        SELECT lineno, CASE WHEN ob > 0 THEN nl[:ob - 1] ELSE nl END AS name,
               CASE WHEN ob > 0 THEN nl[ob:] ELSE '' END AS labels, value, ts
        FROM good
        UNION ALL
        SELECT lineno, m.name, m.labels, m.value, m.ts FROM slow
    """)
    con.execute(f"""
        CREATE OR REPLACE TEMP TABLE typed AS
        WITH names AS (SELECT DISTINCT name FROM parsed),
        bad AS (SELECT name FROM names WHERE NOT regexp_full_match(name, '[a-zA-Z_:][a-zA-Z0-9_:]*'))
        SELECT lineno, CASE WHEN name IN (SELECT name FROM bad) THEN '' ELSE name END AS name,
               labels AS raw_labels, TRY_CAST(value AS DOUBLE) AS value, value AS value_text,
               ts AS ts_text, TRY_CAST(round(TRY_CAST(ts AS DOUBLE) * {scale}) AS BIGINT) AS ts_us
        FROM parsed
    """)


def _register_label_maps(con: Any, label_cache: dict[str, str | Exception]) -> None:
    """Parse the label blocks not seen before; register tables `label_map` (canonical labels
    by block) and `bad_label_map` (why a block is refused)."""
    for (raw,) in con.execute("SELECT DISTINCT raw_labels FROM typed WHERE name <> ''").fetchall():
        if raw not in label_cache:
            label_cache[raw] = _canonical_or_error(raw)
    good = {raw: v for raw, v in label_cache.items() if isinstance(v, str)}
    bad = {raw: str(v) for raw, v in label_cache.items() if isinstance(v, Exception)}
    con.register("label_map", pa.table({"raw": list(good), "labels": list(good.values())}))
    con.register(
        "bad_label_map",
        pa.table(
            {"raw": list(bad), "why": list(bad.values())},
            schema=pa.schema([("raw", pa.string()), ("why", pa.string())]),
        ),
    )


def _canonical_or_error(raw: str) -> str | Exception:
    """A label block's canonical text, or why it is refused."""
    try:
        return canonical_labels(parse_label_block(raw))
    except ValueError as exc:
        return exc
