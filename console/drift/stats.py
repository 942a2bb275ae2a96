"""Per-column drift tests and dataset drift with Evidently 0.7's default choices and definitions."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from console.drift.catalogue import (
    CAT,
    KINDS,
    NUM,
    TESTS,
    DriftError,
    Scored,
    StatTest,
    Untestable,
    resolve_test,
)
from console.drift.category_tests import CATEGORY_TESTS
from console.drift.cleaning import category_counts, clean_categorical, clean_numeric, distinct_sorted
from console.drift.measures import (
    fill_empty,
    hellinger_numeric,
    hellinger_shares,
    jensenshannon,
    kl,
    p_chisquare,
    p_ks,
    p_z,
    psi,
    shares_binned,
    wasserstein_sorted,
)
from console.drift.numeric_tests import NUMERIC_TESTS

SMALL_REFERENCE_ROWS = 1000  # up to this many cleaned reference rows: p-value tests
FEW_VALUES = 5  # numeric columns with at most this many values count as discrete
SMALL_INT_CARDINALITY = 10  # integer columns with at most this many values are categorical
STD_FLOOR = 0.001  # Wasserstein's divisor never falls below this
BINNED_MIN_REFERENCE_VALUES = 20  # above this many reference values, numeric columns are binned
DEFAULT_DRIFT_SHARE = 0.5


@dataclass(frozen=True)
class ColumnDrift:
    """One column's verdict: the test, its score against the threshold, and the rows it saw."""

    column: str
    kind: str
    method: str | None
    score: float | None
    threshold: float | None
    drifted: bool | None
    reference_rows: int
    current_rows: int
    status: str = "ok"  # "ok", "no data", or "failed" (the test cannot score these samples: see note)
    note: str | None = None  # what the score does not show, or why the test failed

    def as_dict(self) -> dict[str, Any]:
        return {
            "column": self.column,
            "kind": self.kind,
            "method": self.method,
            "score": self.score,
            "threshold": self.threshold,
            "drifted": self.drifted,
            "reference_rows": self.reference_rows,
            "current_rows": self.current_rows,
            "status": self.status,
            "note": self.note,
        }


@dataclass(frozen=True)
class DatasetDrift:
    """All columns' verdicts and the dataset verdict: drift when the drifted share reaches the threshold."""

    columns: list[ColumnDrift]
    drift_share: float
    drifted_columns: int = field(init=False)
    share: float | None = field(init=False)
    drifted: bool | None = field(init=False)

    def __post_init__(self) -> None:
        tested = self.tested()
        count = sum(1 for c in tested if c.drifted)
        object.__setattr__(self, "drifted_columns", count)
        share = count / len(tested) if tested else None
        object.__setattr__(self, "share", share)
        object.__setattr__(self, "drifted", None if share is None else bool(share >= self.drift_share))

    def tested(self) -> list[ColumnDrift]:
        """The columns with data on both sides: the share counts only them."""
        return [c for c in self.columns if c.status == "ok"]

    def as_dict(self) -> dict[str, Any]:
        return {
            "dataset_drift": self.drifted,
            "drifted_columns": self.drifted_columns,
            "tested_columns": len(self.tested()),
            "share": self.share,
            "drift_share": self.drift_share,
            "columns": [c.as_dict() for c in self.columns],
        }


def infer_kind(values: Any) -> str:
    """Evidently's type inference: floats numeric, integers numeric above 10 values, the rest categorical."""
    import pandas as pd

    series = values if isinstance(values, pd.Series) else pd.Series(values)
    if pd.api.types.is_bool_dtype(series.dtype):
        return CAT
    if pd.api.types.is_float_dtype(series.dtype):
        return NUM
    if pd.api.types.is_integer_dtype(series.dtype):
        return NUM if series.nunique() > SMALL_INT_CARDINALITY else CAT
    return CAT


# --- choosing and running ----------------------------------------------------------------------


def default_test(kind: str, reference_rows: int, distinct_values: int) -> StatTest:
    """Evidently's default test for a column's kind, cleaned reference size and distinct values in both."""
    if reference_rows <= SMALL_REFERENCE_ROWS:
        if kind == NUM and distinct_values > FEW_VALUES:
            return TESTS["ks"]
        return TESTS["chisquare"] if distinct_values > 2 else TESTS["z"]
    if kind == NUM and distinct_values > FEW_VALUES:
        return TESTS["wasserstein"]
    return TESTS["jensenshannon"]


def column_drift(
    column: str,
    reference: Any,
    current: Any,
    kind: str,
    method: str | None = None,
    threshold: float | None = None,
) -> ColumnDrift:
    """Drift of one column: clean both sides, choose the test (or use `method`), score, compare."""
    chosen = _requested_test(column, kind, method)
    clean = clean_numeric if kind == NUM else clean_categorical
    ref, cur = clean(reference), clean(current)
    if ref.size == 0 or cur.size == 0:
        return ColumnDrift(
            column,
            kind,
            chosen.name if chosen else None,
            None,
            threshold,
            None,
            int(ref.size),
            int(cur.size),
            "no data",
        )
    scorer = _numeric_scorer if kind == NUM else _categorical_scorer
    score_of, test = scorer(ref, cur, chosen)
    limit = test.threshold if threshold is None else float(threshold)
    rows = int(ref.size), int(cur.size)
    try:
        scored = score_of(test.name)
    except Untestable as exc:
        return ColumnDrift(column, kind, test.name, None, limit, None, *rows, "failed", str(exc))
    score, note = scored if isinstance(scored, Scored) else (scored, None)
    return ColumnDrift(column, kind, test.name, score, limit, test.drifted(score, limit), *rows, note=note)


def _requested_test(column: str, kind: str, method: str | None) -> StatTest | None:
    """The test `method` names (None: choose the default), refused when it does not fit the column's kind."""
    if kind not in KINDS:
        raise DriftError(f"column {column!r}: kind must be one of {', '.join(KINDS)}, not {kind!r}")
    chosen = resolve_test(method) if method else None
    if chosen is not None and kind not in chosen.kinds:
        raise DriftError(
            f"column {column!r}: test {chosen.name!r} does not apply to "
            f"{'numeric' if kind == NUM else 'categorical'} columns"
        )
    return chosen


def _numeric_scorer(
    ref: np.ndarray, cur: np.ndarray, chosen: StatTest | None
) -> tuple[Callable[[str], float | Scored], StatTest]:
    ref_sorted = np.sort(ref)
    cache: dict[str, Any] = {}

    def distinct_both() -> int:
        if "distinct" not in cache:
            ref_distinct = distinct_sorted(ref_sorted)
            if ref_distinct > FEW_VALUES:
                cache["distinct"] = ref_distinct  # already enough to decide
            else:
                cache["distinct"] = int(np.unique(np.concatenate([ref_sorted, cur])).size)
        return cache["distinct"]

    def counts() -> tuple[np.ndarray, np.ndarray]:
        _keys, ref_counts, cur_counts = category_counts(ref, cur)
        return ref_counts, cur_counts

    def shares(fill: bool) -> tuple[np.ndarray, np.ndarray]:
        if distinct_sorted(ref_sorted) > BINNED_MIN_REFERENCE_VALUES:
            p, q = shares_binned(ref, cur)
        else:
            ref_counts, cur_counts = counts()
            p, q = ref_counts / len(ref), cur_counts / len(cur)
        return (fill_empty(p), fill_empty(q)) if fill else (p, q)

    def score(name: str) -> float | Scored:
        if name in NUMERIC_TESTS:
            return NUMERIC_TESTS[name](ref, cur)
        if name == "ks":
            return p_ks(ref, cur)
        if name == "wasserstein":
            divisor = max(float(np.std(ref)), STD_FLOOR)
            return wasserstein_sorted(ref_sorted, np.sort(cur)) / divisor
        if name == "chisquare":
            return p_chisquare(*counts())
        if name == "z":
            return p_z(*counts())
        if name == "jensenshannon":
            return jensenshannon(*shares(False))
        if name == "psi":
            return psi(*shares(True))
        if name == "kl_div":
            return kl(*shares(True))
        return hellinger_numeric(ref, cur)

    test = chosen or default_test(NUM, len(ref), distinct_both())
    return score, test


def _categorical_scorer(
    ref: np.ndarray, cur: np.ndarray, chosen: StatTest | None
) -> tuple[Callable[[str], float | Scored], StatTest]:
    keys, ref_counts, cur_counts = category_counts(ref, cur)
    p, q = ref_counts / len(ref), cur_counts / len(cur)

    def score(name: str) -> float | Scored:
        if name in CATEGORY_TESTS:
            return CATEGORY_TESTS[name](ref, cur, keys, ref_counts, cur_counts)
        if name == "chisquare":
            return p_chisquare(ref_counts, cur_counts)
        if name == "z":
            return p_z(ref_counts, cur_counts)
        if name == "jensenshannon":
            return jensenshannon(p, q)
        if name == "psi":
            return psi(fill_empty(p), fill_empty(q))
        if name == "kl_div":
            return kl(fill_empty(p), fill_empty(q))
        return hellinger_shares(p, q)

    test = chosen or default_test(CAT, len(ref), len(keys))
    return score, test


def dataset_drift(
    reference: Any,
    current: Any,
    *,
    columns: Sequence[str] | None = None,
    kinds: Mapping[str, str] | None = None,
    methods: Mapping[str, str] | None = None,
    thresholds: Mapping[str, float] | None = None,
    drift_share: float = DEFAULT_DRIFT_SHARE,
) -> DatasetDrift:
    """Drift of every shared column of two pandas DataFrames, and the dataset verdict."""
    kinds, methods, thresholds = dict(kinds or {}), dict(methods or {}), dict(thresholds or {})
    if columns is None:
        columns = [c for c in reference.columns if c in current.columns]
    _refuse_unknown_columns(columns, kinds=kinds, methods=methods, thresholds=thresholds)
    results = [
        _one_column(column, reference[column], current[column], kinds, methods, thresholds)
        for column in columns
    ]
    return DatasetDrift(results, drift_share)


def _one_column(
    column: Any,
    reference: Any,
    current: Any,
    kinds: dict[str, str],
    methods: dict[str, str],
    thresholds: dict[str, float],
) -> ColumnDrift:
    """One column's drift with its overrides; its kind as given, else inferred from both sides."""
    kind = kinds.get(column) or _infer_pair(reference, current)
    return column_drift(str(column), reference, current, kind, methods.get(column), thresholds.get(column))


def _refuse_unknown_columns(columns: Sequence[str], **overrides: Mapping[str, Any]) -> None:
    """An override (--column-type, --method, --threshold) for a column the files do not share is a mistake."""
    flags = {"kinds": "--column-type", "methods": "--method", "thresholds": "--threshold"}
    for key, given in overrides.items():
        unknown = sorted(set(given) - set(columns))
        if unknown:
            raise DriftError(
                f"{flags[key]} names {', '.join(map(repr, unknown))}, which is not a column "
                f"of both files; columns: {', '.join(map(str, columns))}"
            )


def _infer_pair(reference: Any, current: Any) -> str:
    """The kind of a column from both sides; integers count their distinct values over both."""
    import pandas as pd

    if pd.api.types.is_integer_dtype(reference.dtype) and pd.api.types.is_integer_dtype(current.dtype):
        return infer_kind(pd.concat([reference, current], ignore_index=True))
    kinds = {infer_kind(side) for side in (reference, current) if _has_values(side)}
    return NUM if kinds == {NUM} else (CAT if kinds else infer_kind(reference))


def _has_values(side: Any) -> bool:
    return bool(len(side) and side.notna().any())


# --- results as series ---------------------------------------------------------------------------

DRIFT_SCORE = "oncall_drift_score"
DRIFT_DETECTED = "oncall_drift_detected"
DRIFT_SHARE = "oncall_drift_share"
DATASET_DRIFT = "oncall_dataset_drift"
QUALITY_SERIES = {
    "missing_share": "oncall_quality_missing_share",
    "out_of_range_share": "oncall_quality_out_of_range_share",
    "new_category_share": "oncall_quality_new_category_share",
    "type_mismatch_share": "oncall_quality_type_mismatch_share",
}
QUALITY_ROWS = "oncall_quality_rows"


def result_samples(drift: DatasetDrift, model: str, ts: Any, quality: Any = None) -> Any:
    """The verdicts as samples (name, labels, ts, value) for `ingest_samples`; no-data columns are left out."""
    samples = _Samples(model)
    samples.add_verdicts(drift)
    if quality is not None:
        samples.add_quality(quality)
    return samples.table(ts)


class _Samples:
    """Samples of one model being gathered, as the columns of an arrow table."""

    def __init__(self, model: str) -> None:
        self.model = model
        self.names: list[str] = []
        self.labels: list[str] = []
        self.values: list[float] = []

    def add(self, name: str, value: float, **extra: str) -> None:
        from console.store import canonical_labels

        self.names.append(name)
        self.labels.append(canonical_labels({"model": self.model, **extra}))
        self.values.append(float(value))

    def add_verdicts(self, drift: DatasetDrift) -> None:
        """Each tested column's score and flag, the drifted share and the dataset verdict."""
        for column in drift.columns:
            if column.status == "ok" and column.score is not None:  # "ok" columns always have a score
                self.add(DRIFT_SCORE, column.score, column=column.column, test=str(column.method))
                self.add(DRIFT_DETECTED, 1.0 if column.drifted else 0.0, column=column.column)
        if drift.share is not None:
            self.add(DRIFT_SHARE, drift.share)
            self.add(DATASET_DRIFT, 1.0 if drift.drifted else 0.0)

    def add_quality(self, quality: Any) -> None:
        """The quality report's row count and each column's measured shares."""
        self.add(QUALITY_ROWS, quality.current_rows)
        for column in quality.columns:
            for field_name, series in QUALITY_SERIES.items():
                value = getattr(column, field_name)
                if value is not None:
                    self.add(series, value, column=column.column)

    def table(self, ts: Any) -> Any:
        import pyarrow as pa

        return pa.table(
            {
                "name": pa.array(self.names, pa.string()),
                "labels": pa.array(self.labels, pa.string()),
                "ts": pa.array([ts] * len(self.names), pa.timestamp("us")),
                "value": pa.array(self.values, pa.float64()),
            }
        )
