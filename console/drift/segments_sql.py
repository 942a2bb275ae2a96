"""The one DuckDB pass behind `console.drift.segments`: each group's confusion matrix, counted in SQL."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from console.store import Store

RECORD_FIELDS = ("version", "origin")  # record fields one can group by when no feature has the name


class SegmentError(ValueError):
    """Segments that cannot be computed as asked: said in one line with what to do."""


class NoRecords(SegmentError):
    """The window holds no record to count (none at all, or none labelled and scored)."""


_RECORDS = """
    SELECT {columns}, p.prediction AS prediction, l.label AS label,
           l.label IS NOT NULL AS labelled,
           p.prediction IS NOT NULL AND NOT isnan(p.prediction) AS scored
    FROM predictions p
    LEFT JOIN prediction_labels l ON l.model = p.model AND l.id = p.id AND l.ts <= ?
    WHERE p.model = ? AND p.ts > ? AND p.ts <= ?
"""


def _pointer(name: str) -> str:
    """The JSON Pointer of a top-level key."""
    return "/" + name.replace("~", "~0").replace("/", "~1")


def _columns(
    store: Store, model: str, by: Sequence[str], bounds: tuple[datetime, datetime], missing: str | None
) -> tuple[str, list[Any]]:
    """The SQL of each grouping column (`g0`, `g1`, …) and its parameters: a feature when a record in
    the window has it, else a record field (version, origin)."""
    start, end = bounds
    window = "FROM predictions WHERE model = ? AND ts > ? AND ts <= ?"
    # each EXISTS stops at the first record that has the feature: the usual case costs little
    present = ", ".join(f"EXISTS (SELECT 1 {window} AND json_exists(features, ?))" for _ in by)
    params: list[Any] = []
    for name in by:
        params += [model, start, end, _pointer(name)]
    any_record, *found = store.query(
        f"SELECT EXISTS (SELECT 1 {window}), {present}", [model, start, end, *params]
    )[1][0]
    if not any_record:
        raise NoRecords(
            f"{model}: no prediction record in {start:%Y-%m-%d %H:%M:%S}..{end:%Y-%m-%d %H:%M:%S}; "
            "widen --window or move --at"
        )
    parts, params = [], []
    for i, (name, seen) in enumerate(zip(by, found, strict=True)):
        if seen:
            expr = "json_extract_string(p.features, ?)"
            params.append(_pointer(name))
        elif name in RECORD_FIELDS:
            expr = f"p.{name}"
        else:
            raise SegmentError(f"--by {name}: {_unknown(store, model, bounds)}")
        if missing is not None:
            expr = f"coalesce({expr}, ?)"
            params.append(missing)
        parts.append(f"{expr} AS g{i}")
    return ", ".join(parts), params


def _unknown(store: Store, model: str, bounds: tuple[datetime, datetime]) -> str:
    """Why a column is not known: the features the window's records have, a few of them."""
    _, rows = store.query(
        "SELECT DISTINCT unnest(json_keys(features)) AS k FROM predictions "
        "WHERE model = ? AND ts > ? AND ts <= ? ORDER BY k LIMIT 21",
        [model, *bounds],
    )
    names = [str(r[0]) for r in rows]
    shown = ", ".join(names[:20]) + (", …" if len(names) > 20 else "")
    return f"no record of {model} in the window has this feature (features: {shown}; record fields: version, origin)"


def count_groups(
    store: Store,
    model: str,
    by: Sequence[str],
    bounds: tuple[datetime, datetime],
    threshold: float,
    missing: str | None,
) -> tuple[list[tuple[Any, ...]], dict[str, int]]:
    """Rows of (value per column…, n, tp, fp, fn, tn) per group, sorted, and the records left out
    (`unlabelled`: no label known by the window's end; `unscored`: no prediction or NaN).

    A label other than 0 or 1, or a record without a value for a column, is a SegmentError."""
    columns, column_params = _columns(store, model, by, bounds, missing)
    width = len(by)
    counted = "labelled AND scored AND label IN (0, 1)"
    _, rows = store.query(
        f"""
        SELECT {", ".join(f"g{i}" for i in range(width))},
               count(*) FILTER (WHERE {counted}),
               count(*) FILTER (WHERE {counted} AND decided AND positive),
               count(*) FILTER (WHERE {counted} AND decided AND NOT positive),
               count(*) FILTER (WHERE {counted} AND NOT decided AND positive),
               count(*) FILTER (WHERE {counted} AND NOT decided AND NOT positive),
               count(*) FILTER (WHERE NOT labelled),
               count(*) FILTER (WHERE labelled AND NOT scored),
               count(*) FILTER (WHERE labelled AND label NOT IN (0, 1)),
               min(label) FILTER (WHERE labelled AND label NOT IN (0, 1))
        FROM (SELECT *, prediction >= ? AS decided, label = 1 AS positive FROM ({_RECORDS.format(columns=columns)}))
        GROUP BY ALL ORDER BY ALL
        """,
        [float(threshold), *column_params, bounds[1], model, *bounds],
    )
    not_binary = sum(int(row[width + 7]) for row in rows)
    if not_binary:
        example = min(row[width + 8] for row in rows if row[width + 8] is not None)
        raise SegmentError(
            f"{model}: {not_binary} labels in the window are neither 0 nor 1 (e.g. {example!r}); "
            "segments are for binary classifiers"
        )
    for i, name in enumerate(by):
        no_value = sum(int(row[width]) for row in rows if row[i] is None)
        if no_value:
            raise SegmentError(
                f"--by {name}: {no_value} labelled records of {model} have no value for it (Fairlearn "
                "refuses missing values too); give --missing TEXT to count them in a group of that name"
            )
    left_out = {
        "unlabelled": sum(int(row[width + 5]) for row in rows),
        "unscored": sum(int(row[width + 6]) for row in rows),
    }
    return [row[: width + 5] for row in rows if row[width]], left_out
