"""Arrow arrays from Python values, without loading pandas.

`pa.array`, `pa.table` and their kin first ask whether their input is a pandas object,
and pyarrow answers that by importing pandas (~0.25 s at start-up) the first time a process
asks.  A rule cycle needs pandas nowhere else, so its tables are built here from buffers
(`pa.Array.from_buffers`), which asks nothing: the same arrays, nulls where a value is None.
`from_numpy` wraps a NumPy array's buffer as it is, with a mask for its nulls.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

__all__ = ["column", "from_numpy", "int32s", "int64s", "label_lists", "strings", "table"]

_EPOCH = datetime(1970, 1, 1)
_EPOCH_UTC = datetime(1970, 1, 1, tzinfo=UTC)


def column(values: Sequence[Any], kind: Any) -> Any:
    """`pa.array(values, kind)` for int64, int32, float64, string and timestamp("us") (naive
    datetimes as UTC, as pyarrow takes them); None is null."""
    import numpy as np
    import pyarrow as pa

    valid = [v is not None for v in values]
    nulls = len(values) - sum(valid)
    if kind == pa.string():
        return _strings(
            [v if v is not None else "" for v in values], _bitmap(np.array(valid, bool), nulls), nulls
        )
    numbers: dict[Any, Any] = {pa.int64(): np.int64, pa.int32(): np.int32, pa.float64(): np.float64}
    if kind == pa.timestamp("us"):
        values = [_micros(v) if v is not None else 0 for v in values]
        dtype: Any = np.int64
    elif kind in numbers:
        dtype = numbers[kind]
        if nulls:
            values = [v if v is not None else 0 for v in values]
    else:
        raise TypeError(f"no builder for {kind}")
    data = np.fromiter(values, dtype=dtype, count=len(values))
    return from_numpy(data, kind, np.array(valid, bool) if nulls else None)


def from_numpy(values: Any, kind: Any, valid: Any = None) -> Any:
    """A fixed-width Arrow array over a contiguous NumPy array's buffer (no copy), null where the
    boolean mask `valid` is False (None: no nulls)."""
    import pyarrow as pa

    nulls = 0 if valid is None else len(valid) - int(valid.sum())
    buffers = [_bitmap(valid, nulls), pa.py_buffer(values)]
    return pa.Array.from_buffers(kind, len(values), buffers, null_count=nulls)


def _bitmap(valid: Any, nulls: int) -> Any:
    """Arrow's validity bitmap of a boolean mask; None when nothing is null."""
    import numpy as np
    import pyarrow as pa

    return pa.py_buffer(np.packbits(valid, bitorder="little")) if nulls else None


def int64s(values: Sequence[int]) -> Any:
    import pyarrow as pa

    return column(values, pa.int64())


def int32s(values: Sequence[int]) -> Any:
    import pyarrow as pa

    return column(values, pa.int32())


def strings(values: Sequence[str]) -> Any:
    import pyarrow as pa

    return column(values, pa.string())


def label_lists(rows: Sequence[Sequence[tuple[str, str]]]) -> Any:
    """Per row its labels as list<struct<k: string, v: string>>, the compiler's label type."""
    import pyarrow as pa

    offsets, keys, values = [0], [], []
    for entries in rows:
        keys += [k for k, _ in entries]
        values += [v for _, v in entries]
        offsets.append(len(keys))
    pairs = pa.StructArray.from_arrays([strings(keys), strings(values)], ["k", "v"])
    return pa.ListArray.from_arrays(int32s(offsets), pairs)


def _strings(values: Sequence[str], bitmap: Any, nulls: int) -> Any:
    import numpy as np
    import pyarrow as pa

    encoded = [v.encode() for v in values]
    offsets = np.zeros(len(encoded) + 1, dtype=np.int64)
    np.cumsum([len(e) for e in encoded], out=offsets[1:])
    if offsets[-1] >= 2**31:
        raise ValueError("strings of 2 GiB or more: use pa.large_string")
    buffers = [bitmap, pa.py_buffer(offsets.astype(np.int32)), pa.py_buffer(b"".join(encoded))]
    return pa.Array.from_buffers(pa.string(), len(encoded), buffers, null_count=nulls)


def _micros(value: datetime) -> int:
    """µs since the epoch; an aware datetime by its offset, a naive one as UTC."""
    delta = value - (_EPOCH_UTC if value.tzinfo is not None else _EPOCH)
    return (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds


def table(columns: Mapping[str, Any], schema: Any = None) -> Any:
    """A table of Arrow arrays by column name (cast to `schema` where given)."""
    import pyarrow as pa

    built = pa.Table.from_arrays(list(columns.values()), names=list(columns))
    return built.cast(schema) if schema is not None else built
