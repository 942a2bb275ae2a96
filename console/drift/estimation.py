"""Label-free performance estimation for binary classifiers: NannyML 0.13's CBPE, step by step.

`fit` takes the reference (scores, predicted classes, labels), decides as NannyML does whether
to calibrate the scores (isotonic, `console.drift.calibration`), measures the sampling-error
components on the uncalibrated reference, and sets each metric's alert thresholds at the mean
± 3 standard deviations of its realized value over the reference chunks (clipped to [0, 1]).
`Estimator.estimate` splits data into chunks (by size, by period, or NannyML's default of ten)
and gives, per chunk and metric, the estimate from calibrated scores (the expected confusion
matrix), its sampling error and ±3σ band, the realized value where labels are known, the
thresholds, and whether the estimate is outside them.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from console.drift.calibration import CalibrationError, Isotonic, Ranked, calibrator_for, draw_test_parts
from console.drift.estimation_chunks import SortedChunks, contiguous, sorted_chunks
from console.drift.estimation_metrics import (
    CELL_METRICS,
    COMPONENTS,
    ESTIMATES,
    Cells,
    Columns,
    Counts,
    Undefined,
    auroc_components,
    counted,
    estimate_roc_auc,
    expected_cells,
    realized,
    realized_counts,
    rows_error,
    sampling_error,
)
from console.drift.estimation_spans import (
    DEFAULT_CHUNKS,
    Chunk,
    Chunking,
    EstimationError,
    Outputs,
    time_sorted,
)
from console.drift.score_order import chunks_in_order, distinct_order

__all__ = [
    "DEFAULT_CHUNKS",
    "Chunk",
    "ChunkEstimate",
    "Chunking",
    "EstimationError",
    "Estimator",
    "MetricChunk",
]
__all__ += ["Outputs", "check_labels", "fit"]

METRICS = ("roc_auc", "f1", "precision", "recall", "accuracy")
SAMPLING_ERROR_RANGE = 3  # the confidence band is the estimate ± 3 sampling errors
STD_MULTIPLIER = 3  # thresholds: the reference chunks' mean ± 3 standard deviations
NAN = math.nan


@dataclass(frozen=True)
class MetricChunk:
    """One metric on one chunk: estimate, band, realized value, thresholds and the alert flag."""

    value: float
    sampling_error: float
    realized: float
    lower_bound: float
    upper_bound: float
    lower_threshold: float
    upper_threshold: float
    alert: bool

    def as_dict(self) -> dict[str, Any]:
        return {name: getattr(self, name) for name in self.__dataclass_fields__}


@dataclass(frozen=True)
class ChunkEstimate:
    chunk: Chunk
    period: str  # "reference" or "analysis"
    metrics: dict[str, MetricChunk]

    def as_dict(self) -> dict[str, Any]:
        chunk = self.chunk
        return {
            "key": chunk.key,
            "period": self.period,
            "rows": chunk.rows,
            "start": chunk.start_time.isoformat() if chunk.start_time else None,
            "end": chunk.end_time.isoformat() if chunk.end_time else None,
            "metrics": {name: m.as_dict() for name, m in self.metrics.items()},
        }


@dataclass(frozen=True)
class Estimator:
    """A CBPE fitted on a reference: calibrator (None: scores used as they are), components, thresholds."""

    metrics: tuple[str, ...]
    chunking: Chunking
    calibrator: Isotonic | None
    components: dict[str, tuple[float, ...]]
    thresholds: dict[str, tuple[float, float]]
    reference_data: Outputs
    reference_realized: dict[str, list[float]] = field(default_factory=dict)  # per metric, per chunk
    reference_order: np.ndarray | None = None  # its rows, each chunk's by score (`SortedChunks.order`)

    def reference(self) -> list[ChunkEstimate]:
        """The reference's own chunks, estimated as NannyML reports them beside the analysis."""
        known = self.reference_realized or None
        return self._estimate(self.reference_data, "reference", known, self.reference_order)

    @property
    def calibrated(self) -> bool:
        return self.calibrator is not None

    def estimate(self, data: Outputs, period: str = "analysis") -> list[ChunkEstimate]:
        """Per chunk of `data`, every metric's estimate, band, realized value and alert."""
        return self._estimate(data, period, None)

    def _estimate(
        self,
        data: Outputs,
        period: str,
        known: dict[str, list[float]] | None,
        order: np.ndarray | None = None,
    ) -> list[ChunkEstimate]:
        """`known`: the realized values per metric and chunk where the fit has them (the reference's),
        `order`: its rows' order by chunk and score, where the fit has it."""
        if len(data) == 0:
            return []
        if data.labels is not None:
            check_labels(data.labels)
        data = time_sorted(data)
        spans = self.chunking.spans(data)
        with warnings.catch_warnings(), np.errstate(all="ignore"):
            warnings.simplefilter("ignore", RuntimeWarning)
            together = sorted_chunks(
                (data.scores, data.predicted, data.labels),
                spans,
                self.calibrator,
                counts=known is None,
                order=order,
            )
            if together is not None:
                return self._together(together, spans, period, known)
            calibrated = self.calibrator(data.scores) if self.calibrator is not None else data.scores
            results = []
            for index, chunk in enumerate(spans):
                rows = slice(chunk.start, chunk.stop)
                labels = None if data.labels is None else data.labels[rows]
                columns = (calibrated[rows], data.scores[rows], data.predicted[rows], labels)
                results.append(ChunkEstimate(chunk, period, self._metrics(columns, index, known)))
        return results

    def _together(
        self, together: SortedChunks, spans: list[Chunk], period: str, known: dict[str, list[float]] | None
    ) -> list[ChunkEstimate]:
        """Every chunk's metrics from `together` (no row misses a value): the ROC AUCs of all chunks at
        once, the other metrics from each chunk's expected and realized confusion matrix."""
        aucs: tuple[list[float], list[bool]] = ([], [])
        real_aucs: list[float] = []
        if "roc_auc" in self.metrics:
            aucs = together.estimated_aucs()
            real_aucs = together.realized_aucs() if known is None else known["roc_auc"]
        results = []
        for index, chunk in enumerate(spans):
            cells, rows = together.cells[index], chunk.stop - chunk.start
            counts = None if together.counts is None else together.counts[index]
            metrics = {}
            for metric in self.metrics:
                if metric == "roc_auc":
                    value = aucs[0][index]
                    real = real_aucs[index]
                else:
                    value = ESTIMATES[metric](None, cells)
                    real = known[metric][index] if known is not None else counted(metric, counts)
                error = rows_error(metric, self.components[metric], rows)
                failed = metric == "roc_auc" and aucs[1][index]
                metrics[metric] = self._record(metric, value, error, real, failed=failed)
            results.append(ChunkEstimate(chunk, period, metrics))
        return results

    def _metrics(
        self, columns: Columns, index: int, known: dict[str, list[float]] | None
    ) -> dict[str, MetricChunk]:
        """Every metric on one chunk (`index`) where rows miss values (dropped as NannyML drops them):
        the chunk's expected and realized confusion matrix are counted here, once."""
        cell_metrics = any(m in CELL_METRICS for m in self.metrics)
        cells = expected_cells(columns) if cell_metrics else None
        counts = None
        if cell_metrics and columns[3] is not None and known is None:
            counts = realized_counts(columns)
        return {
            m: self._metric(m, columns, cells, counts, None if known is None else known[m][index])
            for m in self.metrics
        }

    def _metric(
        self, metric: str, columns: Columns, cells: Cells | None, counts: Counts | None, real: float | None
    ) -> MetricChunk:
        try:
            value = estimate_roc_auc(columns) if metric == "roc_auc" else ESTIMATES[metric](columns, cells)
            error = sampling_error(metric, self.components[metric], columns)
            real = realized(metric, columns, counts) if real is None else real
        except Undefined:  # NannyML's chunk record is all NaN when a metric raises
            return self._record(metric, NAN, NAN, NAN, failed=True)
        return self._record(metric, value, error, real)

    def _record(
        self, metric: str, value: float, error: float, real: float, *, failed: bool = False
    ) -> MetricChunk:
        """The chunk's record: estimate, band, realized value, thresholds and alert (all NaN if `failed`)."""
        if failed:
            return MetricChunk(NAN, NAN, NAN, NAN, NAN, NAN, NAN, False)
        low, high = self.thresholds[metric]
        upper = min(1.0, value + SAMPLING_ERROR_RANGE * error) if not math.isnan(value + error) else NAN
        lower = max(0.0, value - SAMPLING_ERROR_RANGE * error) if not math.isnan(value + error) else NAN
        return MetricChunk(value, error, real, lower, upper, low, high, bool(value < low or value > high))


def fit(reference: Outputs, chunking: Chunking | None = None, metrics: Sequence[str] = METRICS) -> Estimator:
    """CBPE fitted on `reference`, which needs a 0/1 label on every row and no missing score."""
    chunking = chunking or Chunking()
    unknown = [m for m in metrics if m not in METRICS]
    if unknown or not metrics:
        raise EstimationError(
            f"unknown metric {', '.join(unknown) or '(none)'}; choose from {', '.join(METRICS)}"
        )
    labels = _reference_labels(reference)
    drawn = draw_test_parts(labels)  # the calibration check's random splits, drawn meanwhile
    try:
        with warnings.catch_warnings(), np.errstate(all="ignore"):
            warnings.simplefilter("ignore", RuntimeWarning)
            data = time_sorted(reference)
            spans = chunking.spans(data)
            found = distinct_order(reference.scores)  # for the AUROC components and the calibration
            order = np.argsort(reference.scores) if found is None else found[0]
            ranked = Ranked(order, reference.scores[order] if found is None else found[1], labels[order])
            chunked = (
                chunks_in_order(order, spans, len(data))
                if data is reference and contiguous(spans, len(data))
                else None
            )
            together = sorted_chunks(
                (data.scores, data.predicted, data.labels), spans, None, cells=False, order=chunked
            )
            components = {
                m: auroc_components(labels, reference.scores, reference.predicted, order, ranked.y)
                if m == "roc_auc"
                else COMPONENTS[m](labels, reference.scores, reference.predicted)
                for m in metrics
            }
            thresholds, reference_realized = _thresholds(data, spans, together, metrics)
        calibrator = calibrator_for(labels, reference.scores, ranked, drawn)  # fits each split as drawn
    except CalibrationError as exc:
        raise EstimationError(str(exc)) from None
    finally:
        if drawn is not None:
            drawn.close()
    return Estimator(
        tuple(metrics),
        chunking,
        calibrator,
        components,
        thresholds,
        reference,
        reference_realized,
        None if together is None else together.order,
    )


def _reference_labels(reference: Outputs) -> np.ndarray:
    if len(reference) == 0:
        raise EstimationError("the reference has no rows")
    if reference.labels is None or np.isnan(reference.labels).any():
        missing = len(reference) if reference.labels is None else int(np.isnan(reference.labels).sum())
        raise EstimationError(
            f"{missing} of {len(reference)} reference rows have no label; the reference needs every label "
            "(choose a reference window whose labels have arrived)"
        )
    if np.isnan(reference.scores).any():
        raise EstimationError(f"{int(np.isnan(reference.scores).sum())} reference rows have no score")
    check_labels(reference.labels)
    return reference.labels


def check_labels(labels: np.ndarray) -> None:
    """Labels must be 0 or 1 (NaN: not known yet)."""
    bad = labels[(labels != 0) & (labels != 1) & ~np.isnan(labels)]
    if bad.size:
        raise EstimationError(f"labels must be 0 or 1 for binary classification; found {float(bad[0])!r}")


def _thresholds(
    data: Outputs, spans: list[Chunk], together: SortedChunks | None, metrics: Sequence[str]
) -> tuple[dict[str, tuple[float, float]], dict[str, list[float]]]:
    """Per metric, mean ± 3 std of its realized value over the reference chunks, clipped to [0, 1],
    and those realized values (the reference's chunks show them). `together`: the chunks sorted
    and counted (None: a row misses a predicted class, so each chunk goes on its own)."""
    assert data.labels is not None
    values: dict[str, list[float]] = {m: [] for m in metrics}
    if together is not None and together.counts is not None:
        aucs = together.realized_aucs() if "roc_auc" in metrics else []
        for index, counts in enumerate(together.counts):
            for metric in metrics:
                values[metric].append(aucs[index] if metric == "roc_auc" else counted(metric, counts))
    else:
        for chunk in spans:
            rows = slice(chunk.start, chunk.stop)
            scores = data.scores[rows]
            columns = (scores, scores, data.predicted[rows], data.labels[rows])
            counts = realized_counts(columns)
            for metric in metrics:
                values[metric].append(realized(metric, columns, counts))
    thresholds = {}
    for metric in metrics:
        mean, std = np.nanmean(values[metric]), np.nanstd(values[metric])
        low, high = mean - std * STD_MULTIPLIER, mean + std * STD_MULTIPLIER
        thresholds[metric] = (0.0 if low <= 0 else float(low)), (1.0 if high >= 1 else float(high))
    return thresholds, values
