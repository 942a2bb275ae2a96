"""CBPE per model as a workspace declares it, on the stored prediction records and their labels.

The reference is a window of records (or a file) whose labels have all arrived; the analysis is
the last `analysis` of records, split into chunks. A label counts only once it has arrived (its
`prediction_labels.ts` is at or before `now`), so realized values fill in as labels come.
`estimation_samples` turns the latest chunk into `oncall_estimated_*` series a rule can page on.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, field_validator, model_validator

from collectors.base import CollectorOptions
from console.config.durations import parse_duration
from console.drift.config import ReferenceConfig
from console.drift.estimation import (
    ChunkEstimate,
    Chunking,
    EstimationError,
    Estimator,
    Outputs,
    fit,
)

if TYPE_CHECKING:
    from console.store import Store

ESTIMATION_KIND = "estimation"
ESTIMATED = "oncall_estimated_{metric}"  # + _lower, _upper: the ±3 sampling-error band; + _lower_threshold,
# _upper_threshold: the reference chunks' mean ± 3 std that the alert compares the estimate with
THRESHOLD_SIDES = ("lower_threshold", "upper_threshold")
ESTIMATED_ALERT = "oncall_estimated_alert"  # {model, metric}: 1 outside the reference's mean ± 3 std
ESTIMATED_ROWS = "oncall_estimated_rows"  # rows in the chunk the estimates are of
REALIZED = "oncall_realized_{metric}"  # where the chunk's labels have arrived

Duration = Annotated[timedelta, BeforeValidator(parse_duration)]
Metric = Literal["roc_auc", "f1", "precision", "recall", "accuracy"]
DEFAULT_METRICS: tuple[Metric, ...] = ("roc_auc", "f1", "precision", "recall", "accuracy")


class EstimationSpec(BaseModel):
    """One model's CBPE: reference, analysis span, chunks, metrics and the decision threshold."""

    model_config = ConfigDict(extra="forbid")

    model: str = Field(min_length=1)
    reference: ReferenceConfig
    analysis: Duration = timedelta(days=1)
    chunk_size: int | None = Field(default=None, ge=1)
    chunk_period: Duration | None = None
    metrics: list[Metric] = Field(default_factory=lambda: list(DEFAULT_METRICS), min_length=1)
    threshold: float = Field(default=0.5, ge=0, le=1, description="predicted class 1 when score >= this")

    @model_validator(mode="after")
    def _chunks(self) -> EstimationSpec:
        if self.chunk_size is not None and self.chunk_period is not None:
            raise ValueError("give chunk_size or chunk_period, not both")
        if self.chunk_period is not None and self.chunk_period <= timedelta(0):
            raise ValueError("chunk_period must be a positive duration, e.g. 1h")
        if self.analysis <= timedelta(0):
            raise ValueError("analysis must be a positive duration, e.g. 1d")
        return self

    @property
    def chunking(self) -> Chunking:
        return Chunking(size=self.chunk_size, period=self.chunk_period)


class EstimationOptions(CollectorOptions):
    models: list[EstimationSpec] = Field(min_length=1, description="one CBPE estimation per model")
    step: str = Field(default="5m", description="estimate at most once per this much time")

    @field_validator("step")
    @classmethod
    def _step(cls, value: str) -> str:
        if parse_duration(value) <= timedelta(0):
            raise ValueError("step must be a positive duration, e.g. 5m")
        return value

    @field_validator("models")
    @classmethod
    def _unique(cls, value: list[EstimationSpec]) -> list[EstimationSpec]:
        names = [spec.model for spec in value]
        for name in names:
            if names.count(name) > 1:
                raise ValueError(f"two estimations for model {name!r}")
        return value


@dataclass
class EstimationResult:
    """One model's estimation at `now`: the windows, the fitted estimator and the analysis chunks."""

    spec: EstimationSpec
    now: datetime
    reference_bounds: tuple[datetime, datetime] | None
    analysis_bounds: tuple[datetime, datetime]
    estimator: Estimator
    chunks: list[ChunkEstimate]
    analysis_rows: int
    labelled_rows: int
    reference_chunks: list[ChunkEstimate] = field(default_factory=list)

    @property
    def alerts(self) -> list[tuple[str, str]]:
        """(chunk key, metric) of every analysis estimate outside its thresholds."""
        return [(c.chunk.key, m) for c in self.chunks for m, v in c.metrics.items() if v.alert]

    def as_dict(self) -> dict[str, Any]:
        estimator = self.estimator
        return {
            "model": self.spec.model,
            "now": self.now.isoformat(),
            "reference": self.spec.reference.describe(),
            "reference_window": [t.isoformat() for t in self.reference_bounds]
            if self.reference_bounds
            else None,
            "reference_rows": len(estimator.reference_data),
            "analysis_window": [t.isoformat() for t in self.analysis_bounds],
            "analysis_rows": self.analysis_rows,
            "labelled_rows": self.labelled_rows,
            "chunking": estimator.chunking.describe(),
            "calibrated": estimator.calibrated,
            "thresholds": {m: {"lower": lo, "upper": hi} for m, (lo, hi) in estimator.thresholds.items()},
            "reference_chunks": [c.as_dict() for c in self.reference_chunks],
            "chunks": [c.as_dict() for c in self.chunks],
        }


def estimation_specs(workspace: Any) -> list[EstimationSpec]:
    """Every model's estimation in the workspace's `estimation` sources."""
    found: list[EstimationSpec] = []
    for source in workspace.config.sources:
        if source.kind == ESTIMATION_KIND:
            found += EstimationOptions.model_validate(source.options).models
    return found


def find_spec(workspace: Any, model: str) -> EstimationSpec | None:
    return next((spec for spec in estimation_specs(workspace) if spec.model == model), None)


def stored_outputs(
    store: Store, model: str, where: str, bounds: list[datetime], now: datetime, threshold: float
) -> Outputs:
    """A model's records in `where` (on p.ts), in time order, with the labels that have arrived by `now`."""
    query = (
        "SELECT p.ts, p.prediction, CASE WHEN l.ts <= ? THEN l.label END AS label "
        "FROM predictions p LEFT JOIN prediction_labels l ON l.model = p.model AND l.id = p.id "
        f"WHERE p.model = ? AND {where} ORDER BY p.ts, p.id"
    )
    cur = store.cursor()
    try:
        table = cur.sql(query, params=[now, model, *bounds]).to_arrow_table()
    finally:
        cur.close()
    scores = table.column("prediction").to_numpy(zero_copy_only=False)
    labels = table.column("label").to_numpy(zero_copy_only=False)
    times = table.column("ts").to_numpy(zero_copy_only=False)
    return Outputs.of(scores, labels, times, threshold=threshold)


def file_outputs(path: Path, threshold: float) -> Outputs:
    """A reference file's rows: `prediction` (the score) and `label` columns, `ts` if present."""
    import pandas as pd

    from collectors.base import SourceError
    from collectors.predictions import read_records

    try:
        frame = read_records(path)
    except SourceError as exc:
        raise EstimationError(str(exc)) from None
    missing = [c for c in ("prediction", "label") if c not in frame.columns]
    if missing:
        raise EstimationError(f"{path}: no {' or '.join(missing)} column; a CBPE reference needs both")
    times = None
    if "ts" in frame.columns:
        times = pd.to_datetime(frame["ts"], utc=True).dt.tz_localize(None).to_numpy("datetime64[us]")
    scores, labels = (_numbers(path, frame, column) for column in ("prediction", "label"))
    return Outputs.of(scores, labels, times, threshold=threshold)


def _numbers(path: Path, frame: Any, column: str) -> Any:
    """A column as float64 (missing: NaN); EstimationError naming the first value that is not a number."""
    import pandas as pd

    values = pd.to_numeric(frame[column], errors="coerce")
    bad = values.isna() & frame[column].notna()
    if bad.any():
        first = frame[column][bad].iloc[0]
        raise EstimationError(f"{path}: {int(bad.sum())} {column} values are not numbers (first: {first!r})")
    return values.to_numpy("float64")


def evaluate_spec(
    store: Store,
    spec: EstimationSpec,
    now: datetime,
    base_dir: str | os.PathLike[str] = ".",
    *,
    reference_chunks: bool = False,
) -> EstimationResult:
    """Fit on the reference and estimate the analysis window at `now`; EstimationError when it cannot."""
    reference_bounds = spec.reference.bounds(now)
    if reference_bounds is None:
        path = Path(spec.reference.file or "")
        reference = file_outputs(path if path.is_absolute() else Path(base_dir) / path, spec.threshold)
    else:
        reference = stored_outputs(
            store, spec.model, "p.ts >= ? AND p.ts < ?", list(reference_bounds), now, spec.threshold
        )
    if len(reference) == 0:
        raise EstimationError(
            f"no records of model {spec.model!r} in the reference ({spec.reference.describe()})"
        )
    estimator = _fitted(spec, reference)
    analysis_bounds = (now - spec.analysis, now)
    analysis = stored_outputs(
        store, spec.model, "p.ts > ? AND p.ts <= ?", list(analysis_bounds), now, spec.threshold
    )
    labelled = 0 if analysis.labels is None else int((~_isnan(analysis.labels)).sum())
    return EstimationResult(
        spec,
        now,
        reference_bounds,
        analysis_bounds,
        estimator,
        estimator.estimate(analysis),
        len(analysis),
        labelled,
        estimator.reference() if reference_chunks else [],
    )


def _isnan(values: Any) -> Any:
    import numpy as np

    return np.isnan(values)


_fit_cache: dict[str, tuple[tuple[Any, ...], Estimator]] = {}  # per model: the last fit and what it was of


def _fitted(spec: EstimationSpec, reference: Outputs) -> Estimator:
    """The estimator for this reference; refitted only when its rows, labels or the options change."""
    import hashlib

    digest = hashlib.blake2b(digest_size=16)
    for part in (reference.scores, reference.labels, reference.times):
        digest.update(b"-" if part is None else part.tobytes())
    key = (spec.chunk_size, spec.chunk_period, tuple(spec.metrics), spec.threshold, digest.digest())
    cached = _fit_cache.get(spec.model)
    if cached is None or cached[0] != key:
        cached = (key, fit(reference, spec.chunking, spec.metrics))
        _fit_cache[spec.model] = cached
    return cached[1]


def estimation_samples(result: EstimationResult, ts: datetime) -> Any:
    """The latest analysis chunk's estimates, bands, alert flags and realized values as samples at `ts`."""
    import math

    import pyarrow as pa

    from console.store import canonical_labels

    names: list[str] = []
    labels: list[str] = []
    values: list[float] = []

    def add(name: str, value: float, **extra: str) -> None:
        names.append(name)
        labels.append(canonical_labels({"model": result.spec.model, **extra}))
        values.append(float(value))

    if result.chunks:
        latest = result.chunks[-1]
        add(ESTIMATED_ROWS, latest.chunk.rows)
        for metric, numbers in latest.metrics.items():
            if math.isnan(numbers.value):
                continue
            base = ESTIMATED.format(metric=metric)
            add(base, numbers.value)
            add(f"{base}_lower", numbers.lower_bound)
            add(f"{base}_upper", numbers.upper_bound)
            add(f"{base}_lower_threshold", numbers.lower_threshold)
            add(f"{base}_upper_threshold", numbers.upper_threshold)
            add(ESTIMATED_ALERT, 1.0 if numbers.alert else 0.0, metric=metric)
            if not math.isnan(numbers.realized):
                add(REALIZED.format(metric=metric), numbers.realized)
    return pa.table(
        {
            "name": pa.array(names, pa.string()),
            "labels": pa.array(labels, pa.string()),
            "ts": pa.array([ts] * len(names), pa.timestamp("us")),
            "value": pa.array(values, pa.float64()),
        }
    )


def latest_estimates(store: Store, model: str, since: datetime) -> dict[str, dict[str, float]]:
    """The most recent stored `oncall_estimated_*` samples of `model` after `since`, per metric:
    value, lower, upper, alert and lower_threshold, upper_threshold (what the `estimation` source
    last wrote; the thresholds only where it wrote them)."""
    names = {ESTIMATED.format(metric=m): (m, "value") for m in DEFAULT_METRICS}
    names |= {
        f"{ESTIMATED.format(metric=m)}_{side}": (m, side)
        for m in DEFAULT_METRICS
        for side in ("lower", "upper", *THRESHOLD_SIDES)
    }
    _, rows = store.query(
        "SELECT s.name, json_extract_string(s.labels, '$.metric'), arg_max(x.value, x.ts) FROM samples x "
        "JOIN series s ON s.id = x.series_id WHERE json_extract_string(s.labels, '$.model') = ? AND x.ts > ? "
        "AND (s.name LIKE 'oncall_estimated_%') GROUP BY s.name, s.labels",
        [model, since],
    )
    found: dict[str, dict[str, float]] = {}
    for name, metric, value in rows:
        if name == ESTIMATED_ALERT and metric:
            found.setdefault(metric, {})["alert"] = float(value)
        elif name in names:
            metric_name, field_name = names[name]
            found.setdefault(metric_name, {})[field_name] = float(value)
    return {m: v for m, v in found.items() if "value" in v}
