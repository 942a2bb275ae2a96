"""console/core/arrays.py builds the arrays pyarrow's own constructors build, nulls included."""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta, timezone

import pyarrow as pa
import pytest

from console.core import arrays

CASES = [
    (pa.int64(), [3, -1, 2**62, 0]),
    (pa.int64(), [None, 5, None]),
    (pa.int32(), [0, 2, 2**31 - 1]),
    (pa.float64(), [1.5, math.nan, -0.0, math.inf, None, 7]),
    (pa.string(), ["", "é", "a\nb", "日本", None, "x" * 300]),
    (pa.timestamp("us"), [datetime(2026, 11, 20, 12, 0, 0, 1), None, datetime(1969, 12, 31, 23, 59, 59)]),
    (
        pa.timestamp("us"),
        [
            datetime(2026, 11, 20, 12, tzinfo=UTC),
            datetime(2026, 11, 20, 14, tzinfo=timezone(timedelta(hours=2))),
        ],
    ),
    (pa.float64(), []),
    (pa.string(), []),
]


@pytest.mark.parametrize(("kind", "values"), CASES)
def test_a_column_is_the_array_pyarrow_builds(kind, values) -> None:
    built, expected = arrays.column(values, kind), pa.array(values, kind)
    assert built.type == kind and built.null_count == expected.null_count
    # repr: NaN equals NaN, -0.0 is not 0.0, a time to the microsecond
    assert [repr(v) for v in built.to_pylist()] == [repr(v) for v in expected.to_pylist()]


def test_label_lists_and_tables_are_pyarrows() -> None:
    rows = [[("job", "api"), ("le", "+Inf")], [], [("instance", "h:1")]]
    kv = pa.list_(pa.struct([("k", pa.string()), ("v", pa.string())]))
    expected = pa.array([[{"k": k, "v": v} for k, v in row] for row in rows], kv)
    assert arrays.label_lists(rows).equals(expected)
    table = arrays.table({"sid": arrays.int64s([1, 2, 3]), "labels": arrays.label_lists(rows)})
    assert table.equals(pa.table({"sid": pa.array([1, 2, 3], pa.int64()), "labels": expected}))


def test_a_table_takes_a_schema() -> None:
    schema = pa.schema([("name", pa.string()), ("value", pa.float64())])
    table = arrays.table({"name": arrays.strings(["a"]), "value": arrays.column([1.0], pa.float64())}, schema)
    assert table.schema == schema


def test_a_type_without_a_builder_is_refused() -> None:
    with pytest.raises(TypeError, match="no builder"):
        arrays.column([True], pa.bool_())


def test_from_numpy_wraps_the_buffer_with_its_nulls() -> None:
    import numpy as np

    values = np.array([1.5, -0.0, math.nan, 4.0])
    valid = np.array([True, False, True, True])
    built = arrays.from_numpy(values, pa.float64(), valid)
    expected = pa.array(values, pa.float64(), mask=~valid)
    assert built.null_count == 1
    assert [repr(v) for v in built.to_pylist()] == [repr(v) for v in expected.to_pylist()]
    assert arrays.from_numpy(values, pa.float64()).null_count == 0
