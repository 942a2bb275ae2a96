"""Data-quality checks of a current window against its reference: missing, out of range, new values, types, rows."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from console.drift.stats import NUM, _infer_pair, infer_kind


@dataclass(frozen=True)
class QualityThresholds:
    """Limits above which a share is a problem; `min_rows` is the smallest acceptable current window."""

    missing_share: float = 0.05
    out_of_range_share: float = 0.05
    new_category_share: float = 0.0
    type_mismatch_share: float = 0.0
    min_rows: int = 1


@dataclass(frozen=True)
class ColumnQuality:
    """One column's shares in the current window; None where the check does not apply or there is no data."""

    column: str
    kind: str
    rows: int
    missing_share: float | None
    out_of_range_share: float | None
    reference_range: tuple[float, float] | None
    new_categories: list[Any]
    new_category_share: float | None
    type_mismatch_share: float | None
    problems: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {
            "column": self.column,
            "kind": self.kind,
            "rows": self.rows,
            "missing_share": self.missing_share,
            "out_of_range_share": self.out_of_range_share,
            "reference_range": list(self.reference_range) if self.reference_range else None,
            "new_categories": [_plain(v) for v in self.new_categories],
            "new_category_share": self.new_category_share,
            "type_mismatch_share": self.type_mismatch_share,
            "problems": self.problems,
        }


@dataclass(frozen=True)
class QualityReport:
    """Every column's quality, the row counts, and the problems found (empty when all is well)."""

    columns: list[ColumnQuality]
    reference_rows: int
    current_rows: int
    missing_columns: list[str]
    unexpected_columns: list[str]
    problems: list[str]

    def as_dict(self) -> dict[str, Any]:
        return {
            "reference_rows": self.reference_rows,
            "current_rows": self.current_rows,
            "missing_columns": self.missing_columns,
            "unexpected_columns": self.unexpected_columns,
            "problems": self.problems,
            "columns": [c.as_dict() for c in self.columns],
        }


def _plain(value: Any) -> Any:
    return value.item() if isinstance(value, np.generic) else value


def _is_numeric_dtype(series: Any) -> bool:
    import pandas as pd

    return pd.api.types.is_numeric_dtype(series.dtype) and not pd.api.types.is_bool_dtype(series.dtype)


def _numbers(series: Any) -> tuple[np.ndarray, int]:
    """The column as float64 (unparseable text becomes NaN) and how many present values did not parse."""
    import pandas as pd

    if _is_numeric_dtype(series) or pd.api.types.is_bool_dtype(series.dtype):
        return series.to_numpy(dtype="float64", na_value=np.nan), 0
    parsed = pd.to_numeric(series, errors="coerce")
    failed = int((parsed.isna() & series.notna()).sum())
    return parsed.to_numpy(dtype="float64", na_value=np.nan), failed


def _expected_kind(reference: Any, current: Any) -> str:
    """The kind both sides agree on, else the reference's: the reference says what to expect."""
    if _is_numeric_dtype(reference) == _is_numeric_dtype(current) or not reference.notna().any():
        return _infer_pair(reference, current)
    return infer_kind(reference)


def column_quality(
    column: str,
    reference: Any,
    current: Any,
    kind: str,
    thresholds: QualityThresholds = QualityThresholds(),
    value_range: tuple[float, float] | None = None,
) -> ColumnQuality:
    """Missing share, out-of-range share (numeric), new categories (categorical) and type mismatches."""
    rows = len(current)
    present = int(current.notna().sum())
    missing = None if rows == 0 else (rows - present) / rows
    out_of_range = new_share = mismatch = None
    span: tuple[float, float] | None = None
    new_values: list[Any] = []
    problems: list[str] = []
    if kind == NUM:
        ref_values, _ = _numbers(reference)
        cur_values, failed = _numbers(current)
        mismatch = None if present == 0 else failed / present
        if value_range is not None:
            span = (float(value_range[0]), float(value_range[1]))
        else:
            finite_ref = ref_values[np.isfinite(ref_values)]
            span = (float(finite_ref.min()), float(finite_ref.max())) if finite_ref.size else None
        parsed = cur_values[~np.isnan(cur_values)]
        if span is not None and parsed.size:
            outside = np.count_nonzero((parsed < span[0]) | (parsed > span[1]))
            out_of_range = float(outside / parsed.size)
    else:
        mismatch = (
            None
            if present == 0
            else (0.0 if not _is_numeric_dtype(current) or _is_numeric_dtype(reference) else 1.0)
        )
        seen = set(reference.dropna().unique().tolist())
        current_present = current.dropna()
        if len(current_present):
            unseen = ~current_present.isin(seen).to_numpy()
            new_share = float(unseen.mean())
            new_values = sorted(set(current_present[unseen].unique().tolist()), key=str)
    if rows == 0 or present == 0:
        problems.append("no data")
    if missing is not None and missing > thresholds.missing_share:
        problems.append(f"missing share {missing:.3g} > {thresholds.missing_share:g}")
    if out_of_range is not None and out_of_range > thresholds.out_of_range_share:
        problems.append(
            f"out-of-range share {out_of_range:.3g} > {thresholds.out_of_range_share:g} "
            f"(range {span[0]:g}..{span[1]:g})"  # type: ignore[index]  # untyped row or union left for the drift/incidents/playbooks pass
        )
    if new_share is not None and new_share > thresholds.new_category_share:
        shown = ", ".join(map(str, new_values[:5])) + (" …" if len(new_values) > 5 else "")
        problems.append(f"new categories {shown} in {new_share:.3g} of rows")
    if mismatch is not None and mismatch > thresholds.type_mismatch_share:
        problems.append(
            f"type mismatch in {mismatch:.3g} of values (expected "
            f"{'numbers' if kind == NUM else 'categories'})"
        )
    return ColumnQuality(
        column, kind, rows, missing, out_of_range, span, new_values, new_share, mismatch, problems
    )


def data_quality(
    reference: Any,
    current: Any,
    *,
    columns: Sequence[str] | None = None,
    kinds: Mapping[str, str] | None = None,
    ranges: Mapping[str, tuple[float, float]] | None = None,
    thresholds: QualityThresholds = QualityThresholds(),
) -> QualityReport:
    """Quality of every reference column in the current pandas DataFrame, with the dataset's row count."""
    kinds, ranges = dict(kinds or {}), dict(ranges or {})
    names = list(columns) if columns is not None else list(reference.columns)
    missing_columns = [c for c in names if c not in current.columns]
    unexpected = [c for c in current.columns if c not in reference.columns]
    results = []
    for column in names:
        if column in missing_columns:
            continue
        kind = kinds.get(column) or _expected_kind(reference[column], current[column])
        results.append(
            column_quality(
                str(column), reference[column], current[column], kind, thresholds, ranges.get(column)
            )
        )
    problems = []
    if len(current) < thresholds.min_rows:
        problems.append(
            f"current window has {len(current)} rows (< {thresholds.min_rows}): no data"
            if len(current) == 0
            else f"current window has {len(current)} rows (< {thresholds.min_rows})"
        )
    problems += [f"column {c!r} is missing from the current data" for c in missing_columns]
    problems += [
        f"column {c.column!r}: {p}"
        for c in results
        for p in c.problems
        if not (p == "no data" and len(current) == 0)
    ]
    return QualityReport(results, len(reference), len(current), missing_columns, unexpected, problems)
