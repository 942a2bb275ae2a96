"""Reading the prediction records the `predictions` source stored: a model's features, one column each."""

from __future__ import annotations

import io
import json
from datetime import datetime
from typing import TYPE_CHECKING, Any

import duckdb

if TYPE_CHECKING:
    from console.store.db import Store


def prediction_features(store: Store, model: str, start: datetime, end: datetime) -> Any:
    """The features (and prediction) of a model's records with start <= ts < end, one column each."""
    return records_frame(store, model, "ts >= ? AND ts < ?", [start, end])


def records_frame(store: Store, model: str, where: str, params: list[Any]) -> Any:
    """Features and prediction of a model's records matching `where`, one column each.

    DuckDB parses the features (outside the GIL, so a console drawing meanwhile does not
    stall); features whose values mix types or nest fall back to pandas' JSON reader.
    """
    import pandas as pd

    source = f"FROM predictions WHERE model = ? AND {where}"
    args = [model, *params]
    structure = store.query(f"SELECT json_group_structure(features::JSON) {source}", args)[1]
    shape = json.loads(structure[0][0]) if structure and structure[0][0] is not None else None
    if shape is None:
        return pd.DataFrame()
    typed = _flat_types(shape)
    table = _read_flat(store, source, args, typed) if typed is not None else None
    if table is not None and not _lost_values(store, source, args, table, typed or {}):
        return table.to_pandas()
    return _read_json(store, source, args)


def _flat_types(shape: Any) -> dict[str, str] | None:
    """The column types DuckDB can unnest the features into; None when a feature nests or mixes types."""
    if not isinstance(shape, dict) or "prediction" in shape:
        return None
    if not all(isinstance(kind, str) and kind in _FLAT_TYPES for kind in shape.values()):
        return None
    return {name: _FLAT_TYPES[kind] for name, kind in shape.items()}


def _read_flat(store: Store, source: str, args: list[Any], typed: dict[str, str]) -> Any:
    """The records as an arrow table of typed columns, or None where DuckDB cannot convert a value."""
    literal = json.dumps(typed).replace("'", "''")
    cur = store.cursor()
    try:
        return cur.sql(
            f"SELECT unnest(json_transform(features, '{literal}')), prediction {source} ORDER BY ts, id",
            params=args,
        ).to_arrow_table()
    except duckdb.Error:  # a fallback, not a silence: pandas' reader copes with what DuckDB will not convert
        return None
    finally:
        cur.close()


def _lost_values(store: Store, source: str, args: list[Any], table: Any, typed: dict[str, str]) -> bool:
    """Whether `json_transform` turned a value it could not cast into NULL (it does so without an
    error: an integer beyond int64 in a BIGINT column): more NULLs than the JSON holds nulls or
    missing keys. Only columns with NULLs are counted, so the usual read costs nothing more."""
    suspects = [name for name, kind in typed.items() if kind == "BIGINT" and table.column(name).null_count]
    if not suspects:
        return False
    absent = ", ".join(
        "count(*) FILTER (WHERE coalesce(json_type(features, ?), 'NULL') = 'NULL')" for _ in suspects
    )
    pointers = ["/" + name.replace("~", "~0").replace("/", "~1") for name in suspects]  # JSON Pointer keys
    counts = store.query(f"SELECT {absent} {source}", [*pointers, *args])[1][0]
    return any(table.column(name).null_count != n for name, n in zip(suspects, counts, strict=True))


def _read_json(store: Store, source: str, args: list[Any]) -> Any:
    import pandas as pd

    _, rows = store.query(f"SELECT features, prediction {source} ORDER BY ts, id", args)
    frame = pd.read_json(io.StringIO("\n".join(r[0] for r in rows)), lines=True, dtype=False)
    frame["prediction"] = pd.Series([r[1] for r in rows], dtype="float64")
    return frame


# JSON value types DuckDB infers for a feature, as read into columns (ints as int64 like pandas;
# booleans are left to pandas, which marks a missing one NaN where Arrow gives None)
_FLAT_TYPES = {"DOUBLE": "DOUBLE", "UBIGINT": "BIGINT", "BIGINT": "BIGINT", "VARCHAR": "VARCHAR"}
