"""Reading a file for `oncall import`: its format, its identity, its lines in batches, and
Prometheus label blocks."""

from __future__ import annotations

import hashlib
import os
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.csv as pacsv

SHOWN_SKIPS = 5

_LABEL_RE = re.compile(r'\s*([a-zA-Z_][a-zA-Z0-9_]*)\s*=\s*"((?:[^"\\]|\\.)*)"\s*(,|$)')
_UNESCAPE = {"\\\\": "\\", '\\"': '"', "\\n": "\n"}


class ImportFailed(Exception):
    """A file that cannot be imported at all (unreadable, unknown format)."""


@dataclass
class ImportReport:
    path: Path
    fmt: str
    lines: int = 0
    added: int = 0
    skipped: int = 0
    skips: list[tuple[int, str]] = field(default_factory=list)
    resumed_at: int = 0
    kind: str = "samples"

    def skip(self, line: int, reason: str) -> None:
        self.skipped += 1
        if len(self.skips) < SHOWN_SKIPS:
            self.skips.append((line, reason))

    def as_dict(self) -> dict:
        return {
            "file": str(self.path),
            "format": self.fmt,
            "lines": self.lines,
            "added": self.added,
            "kind": self.kind,
            "skipped": self.skipped,
            "resumed_at_line": self.resumed_at,
            "first_skips": [{"line": n, "reason": r} for n, r in self.skips],
        }


_FORMAT_BY_SUFFIX = {".parquet": "parquet", ".csv": "csv", ".jsonl": "jsonl", ".ndjson": "jsonl"}
_EXPOSITION_SUFFIXES = (".prom", ".om", ".metrics")


def detect_format(path: Path) -> str:
    """The format by the file's suffix, else by its first bytes."""
    suffix = path.suffix.lower()
    if suffix in _FORMAT_BY_SUFFIX:
        return _FORMAT_BY_SUFFIX[suffix]
    if suffix in _EXPOSITION_SUFFIXES:
        return "openmetrics" if _has_eof(path) else "prometheus"
    return _sniff(path)


def _sniff(path: Path) -> str:
    with open(path, "rb") as fh:
        head = fh.read(4096).lstrip()
    if head.startswith(b"{"):
        return "jsonl"
    if head.startswith(b"#") or re.match(rb"[a-zA-Z_:][a-zA-Z0-9_:]*[{ \t]", head):
        return "openmetrics" if _has_eof(path) else "prometheus"
    raise ImportFailed(
        f"{path}: cannot tell the format; name it .prom, .om, .jsonl, .csv or .parquet, or pass --format"
    )


def _has_eof(path: Path) -> bool:
    with open(path, "rb") as fh:
        fh.seek(max(0, os.path.getsize(path) - 64))
        return b"# EOF" in fh.read()


def file_identity(path: Path) -> dict:
    """Enough to tell the same file again: a hash of its first 64 KiB."""
    with open(path, "rb") as fh:
        return {"head": hashlib.sha256(fh.read(65536)).hexdigest()[:16]}


def line_batches(path: Path, start_line: int, batch_lines: int) -> Iterator[pa.Table]:
    """The file's lines as tables (lineno, line), in order, from `start_line` + 1."""
    reader = pacsv.open_csv(
        path,
        read_options=pacsv.ReadOptions(column_names=["line"], block_size=8 << 20),
        parse_options=pacsv.ParseOptions(
            delimiter="\x1e", quote_char=False, escape_char=False, ignore_empty_lines=False
        ),
        convert_options=pacsv.ConvertOptions(
            column_types={"line": pa.string()}, strings_can_be_null=False, quoted_strings_can_be_null=False
        ),
    )
    lineno = 0
    pending: list[pa.RecordBatch] = []
    pending_rows = 0
    for batch in reader:
        first = lineno + 1
        lineno += batch.num_rows
        if lineno <= start_line:
            continue
        if first <= start_line:
            batch = batch.slice(start_line - first + 1)
            first = start_line + 1
        numbered = pa.RecordBatch.from_arrays(
            [pa.array(np.arange(first, lineno + 1, dtype=np.int64)), batch.column(0)], ["lineno", "line"]
        )
        pending.append(numbered)
        pending_rows += numbered.num_rows
        while pending_rows >= batch_lines:
            table = pa.Table.from_batches(pending)
            yield table.slice(0, batch_lines)
            rest = table.slice(batch_lines)
            pending = rest.to_batches()
            pending_rows = rest.num_rows
    if pending_rows:
        yield pa.Table.from_batches(pending)


def parse_label_block(block: str) -> dict[str, str]:
    """`{a="x",b="y"}` into a dict; ValueError on anything malformed."""
    inner = block.strip()[1:-1].strip()
    labels: dict[str, str] = {}
    pos = 0
    while pos < len(inner):
        match = _LABEL_RE.match(inner, pos)
        if not match:
            raise ValueError(f"malformed labels near {inner[pos : pos + 30]!r}")
        name, value = match[1], re.sub(r'\\[\\"n]', lambda m: _UNESCAPE[m[0]], match[2])
        if name in labels:
            raise ValueError(f"label {name!r} given twice")
        labels[name] = value
        pos = match.end()
        if match[3] == "" and pos < len(inner):
            raise ValueError("labels must be separated by commas")
    return labels
