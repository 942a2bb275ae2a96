"""Data-quality checks of a current window against its reference: missing, out of range, new values, types, rows."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
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
    span: tuple[float, float] | None = None
    out_of_range = new_share = None
    new_values: list[Any] = []
    if kind == NUM:
        mismatch, span, out_of_range = _numeric_checks(reference, current, present, value_range)
    else:
        mismatch, new_values, new_share = _categorical_checks(reference, current, present)
    quality = ColumnQuality(column, kind, rows, missing, out_of_range, span, new_values, new_share, mismatch)
    return replace(quality, problems=_problems(quality, rows == 0 or present == 0, thresholds))


def _numeric_checks(
    reference: Any, current: Any, present: int, value_range: tuple[float, float] | None
) -> tuple[float | None, tuple[float, float] | None, float | None]:
    """Type-mismatch share, the expected range (given, else the reference's) and the share outside it."""
    ref_values, _ = _numbers(reference)
    cur_values, failed = _numbers(current)
    mismatch = None if present == 0 else failed / present
    span = _expected_range(ref_values, value_range)
    parsed = cur_values[~np.isnan(cur_values)]
    if span is None or not parsed.size:
        return mismatch, span, None
    outside = np.count_nonzero((parsed < span[0]) | (parsed > span[1]))
    return mismatch, span, float(outside / parsed.size)


def _expected_range(
    ref_values: np.ndarray, value_range: tuple[float, float] | None
) -> tuple[float, float] | None:
    if value_range is not None:
        return (float(value_range[0]), float(value_range[1]))
    finite_ref = ref_values[np.isfinite(ref_values)]
    return (float(finite_ref.min()), float(finite_ref.max())) if finite_ref.size else None


def _categorical_checks(
    reference: Any, current: Any, present: int
) -> tuple[float | None, list[Any], float | None]:
    """Type-mismatch share (numbers where the reference had none), the unseen values and their share."""
    mismatch = None if present == 0 else _numbers_for_categories(reference, current)
    seen = set(reference.dropna().unique().tolist())
    current_present = current.dropna()
    if not len(current_present):
        return mismatch, [], None
    unseen = ~current_present.isin(seen).to_numpy()
    new_values = sorted(set(current_present[unseen].unique().tolist()), key=str)
    return mismatch, new_values, float(unseen.mean())


def _numbers_for_categories(reference: Any, current: Any) -> float:
    """1.0 when a categorical column arrives as numbers the reference did not have, else 0.0."""
    return 0.0 if not _is_numeric_dtype(current) or _is_numeric_dtype(reference) else 1.0


def _over(share: float | None, limit: float) -> bool:
    return share is not None and share > limit


def _problems(quality: ColumnQuality, no_data: bool, thresholds: QualityThresholds) -> list[str]:
    """Each share over its threshold, in words (and "no data" first when nothing was present)."""
    problems = ["no data"] if no_data else []
    if _over(quality.missing_share, thresholds.missing_share):
        problems.append(f"missing share {quality.missing_share:.3g} > {thresholds.missing_share:g}")
    problems += _range_problem(quality, thresholds.out_of_range_share)
    if _over(quality.new_category_share, thresholds.new_category_share):
        problems.append(_new_categories(quality.new_categories, quality.new_category_share))
    if _over(quality.type_mismatch_share, thresholds.type_mismatch_share):
        problems.append(
            f"type mismatch in {quality.type_mismatch_share:.3g} of values (expected "
            f"{'numbers' if quality.kind == NUM else 'categories'})"
        )
    return problems


def _range_problem(quality: ColumnQuality, limit: float) -> list[str]:
    span = quality.reference_range
    if span is None or not _over(quality.out_of_range_share, limit):
        return []
    return [
        f"out-of-range share {quality.out_of_range_share:.3g} > {limit:g} (range {span[0]:g}..{span[1]:g})"
    ]


def _new_categories(values: list[Any], share: float | None) -> str:
    shown = ", ".join(map(str, values[:5])) + (" …" if len(values) > 5 else "")
    return f"new categories {shown} in {share:.3g} of rows"


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
    present, missing_columns, unexpected = _column_sets(reference, current, columns)
    results = _measure_columns(reference, current, present, dict(kinds or {}), dict(ranges or {}), thresholds)
    problems = _row_problems(len(current), thresholds.min_rows)
    problems += [f"column {c!r} is missing from the current data" for c in missing_columns]
    problems += _column_problems(results, empty=len(current) == 0)
    return QualityReport(results, len(reference), len(current), missing_columns, unexpected, problems)


def _column_sets(
    reference: Any, current: Any, columns: Sequence[str] | None
) -> tuple[list[Any], list[Any], list[Any]]:
    """The wanted columns (all the reference's by default) present in the current data, those missing, the extra ones."""
    names = list(columns) if columns is not None else list(reference.columns)
    missing = [c for c in names if c not in current.columns]
    unexpected = [c for c in current.columns if c not in reference.columns]
    return [c for c in names if c not in missing], missing, unexpected


def _measure_columns(
    reference: Any,
    current: Any,
    names: list[Any],
    kinds: dict[str, str],
    ranges: dict[str, tuple[float, float]],
    thresholds: QualityThresholds,
) -> list[ColumnQuality]:
    """Each column's quality; its kind as given, else the one both sides agree on."""
    results = []
    for column in names:
        kind = kinds.get(column) or _expected_kind(reference[column], current[column])
        results.append(
            column_quality(
                str(column), reference[column], current[column], kind, thresholds, ranges.get(column)
            )
        )
    return results


def _row_problems(rows: int, min_rows: int) -> list[str]:
    if rows >= min_rows:
        return []
    return [f"current window has {rows} rows (< {min_rows})" + (": no data" if rows == 0 else "")]


def _column_problems(results: list[ColumnQuality], *, empty: bool) -> list[str]:
    """Each column's problems; an empty window already says "no data" once for all of them."""
    return [
        f"column {c.column!r}: {p}" for c in results for p in c.problems if not (p == "no data" and empty)
    ]
