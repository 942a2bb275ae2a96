"""Reading a log file in chunks of complete lines, as Arrow strings over the read buffer.

A line longer than a chunk is skipped through and kept as its head (`collectors.logfile`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc


class Readable(Protocol):
    """A file read at offsets: an open binary file, or a GzipStream over a gzipped one."""

    def seek(self, offset: int, /) -> int: ...

    def read(self, size: int, /) -> bytes: ...


@dataclass
class Chunk:
    """Complete lines read from one file: their bytes, where each starts, and its length."""

    text: pa.Array  # one string per line, without its line break (giant lines cut)
    offsets: np.ndarray  # absolute byte offset where each line starts
    lengths: np.ndarray  # each line's full length in bytes
    next_offset: int


def _strings(data: bytes, starts: np.ndarray, ends: np.ndarray) -> pa.Array:
    """Lines as an Arrow string array straight over the buffer; invalid UTF-8 is replaced."""
    if len(starts) and np.all(starts[1:] == ends[:-1] + 1) and len(data) < (1 << 31):
        # Contiguous lines: offsets over the buffer, each value keeps its newline for now.
        bounds = np.append(starts, ends[-1] + 1).astype(np.int32)
        arr = pa.StringArray.from_buffers(len(starts), pa.py_buffer(bounds.tobytes()), pa.py_buffer(data))
        try:
            arr.validate(full=True)
            return pc.utf8_rtrim(arr, characters="\r\n")
        except pa.ArrowInvalid:
            pass
    return pa.array(
        [data[s:e].decode("utf-8", "replace").rstrip("\r") for s, e in zip(starts, ends)], pa.string()
    )


def read_chunk(fh: Readable, offset: int, chunk_bytes: int, cap: int, final: bool) -> Chunk | None:
    """Read complete lines from `offset`; None when only a partial line (or nothing) is left.

    With `final`, a trailing line without a newline is taken too (the file was rotated
    away, nobody will finish it).  A line longer than a chunk is skipped through and kept
    as its first `cap` bytes.
    """
    fh.seek(offset)
    data = fh.read(chunk_bytes)
    if not data:
        return None
    newlines = np.flatnonzero(np.frombuffer(data, np.uint8) == 10)
    if len(newlines) == 0 and len(data) == chunk_bytes:
        return _giant_line(fh, offset, data, chunk_bytes, cap, final)
    starts, ends, used = _line_bounds(newlines)
    if final and used < len(data) and len(data) < chunk_bytes:
        return _with_tail(data, offset, starts, ends, used)
    if not len(starts):
        return None
    return Chunk(_strings(data[:used], starts, ends), starts + offset, ends - starts, offset + used)


def _line_bounds(newlines: np.ndarray) -> tuple[np.ndarray, np.ndarray, int]:
    """Each complete line's start and end (its newline), and the bytes they span."""
    if not len(newlines):
        return np.zeros(0, np.int64), newlines.astype(np.int64), 0
    starts = np.concatenate(([0], newlines[:-1] + 1)).astype(np.int64)
    return starts, newlines.astype(np.int64), int(newlines[-1]) + 1


def _with_tail(data: bytes, offset: int, starts: np.ndarray, ends: np.ndarray, used: int) -> Chunk:
    """The complete lines and the unfinished last one, taken as a line of its own."""
    text = _strings(data[:used], starts, ends) if len(starts) else pa.array([], pa.string())
    tail = pa.array([data[used:].decode("utf-8", "replace").rstrip("\r")], pa.string())
    text = pa.concat_arrays([text, tail])
    starts = np.append(starts, used)
    ends = np.append(ends, len(data))
    return Chunk(text, starts + offset, ends - starts, offset + len(data))


def _giant_line(
    fh: Readable, offset: int, head: bytes, chunk_bytes: int, cap: int, final: bool
) -> Chunk | None:
    """A line longer than one chunk: find its end without holding it, keep its head."""
    position = offset + len(head)
    found = False
    while True:
        block = fh.read(chunk_bytes)
        if not block:
            if not final:
                return None  # still being written: wait for the newline
            end = position
            break
        at = block.find(b"\n")
        if at >= 0:
            end, found = position + at, True
            break
        position += len(block)
    kept = head[:cap].decode("utf-8", "ignore")
    return Chunk(
        pa.array([kept], pa.string()),
        np.array([offset], np.int64),
        np.array([end - offset], np.int64),
        end + 1 if found else end,
    )
