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
from datetime import datetime, timedelta
from typing import Any

import numpy as np

from console.drift.calibration import CalibrationError, Isotonic, calibrator_for, draw_test_parts
from console.drift.estimation_chunks import SortedChunks, sorted_chunks
from console.drift.estimation_metrics import (
    CELL_METRICS,
    COMPONENTS,
    ESTIMATES,
    SORTED,
    Cells,
    Columns,
    Counts,
    Order,
    Undefined,
    auroc_components,
    estimate_roc_auc,
    expected_cells,
    realized,
    realized_counts,
    sampling_error,
)

METRICS = ("roc_auc", "f1", "precision", "recall", "accuracy")
SAMPLING_ERROR_RANGE = 3  # the confidence band is the estimate ± 3 sampling errors
STD_MULTIPLIER = 3  # thresholds: the reference chunks' mean ± 3 standard deviations
DEFAULT_CHUNKS = 10  # NannyML's DefaultChunker: ten chunks when neither size nor period is given
EPOCH = np.datetime64(0, "us")


class EstimationError(ValueError):
    """Data that CBPE cannot work with (no reference rows, labels other than 0/1, …)."""


@dataclass(frozen=True)
class Outputs:
    """A model's outputs on some rows: the score (probability of class 1), the predicted class,
    the label where known (NaN where not) and the prediction time (optional)."""

    scores: np.ndarray
    predicted: np.ndarray
    labels: np.ndarray | None = None
    times: np.ndarray | None = None  # datetime64[us]

    @classmethod
    def of(
        cls,
        scores: Any,
        labels: Any = None,
        times: Any = None,
        *,
        threshold: float = 0.5,
        predicted: Any = None,
    ) -> Outputs:
        """Outputs from arrays; the predicted class is score >= threshold unless given."""
        score_array = np.asarray(scores, dtype=np.float64)
        if predicted is None:
            with np.errstate(invalid="ignore"):
                predicted = np.where(
                    np.isnan(score_array), np.nan, (score_array >= threshold).astype(np.float64)
                )
        label_array = None if labels is None else np.asarray(labels, dtype=np.float64)
        time_array = None if times is None else np.asarray(times, dtype="datetime64[us]")
        return cls(score_array, np.asarray(predicted, dtype=np.float64), label_array, time_array)

    def __len__(self) -> int:
        return int(self.scores.size)

    def take(self, index: Any) -> Outputs:
        return Outputs(
            self.scores[index],
            self.predicted[index],
            None if self.labels is None else self.labels[index],
            None if self.times is None else self.times[index],
        )


@dataclass(frozen=True)
class Chunking:
    """How rows are split: `size` rows a chunk (the last one may be short), one `period` a chunk
    (periods counted from the epoch, empty ones skipped), or neither: ten chunks of len // 10."""

    size: int | None = None
    period: timedelta | None = None

    def __post_init__(self) -> None:
        if self.size is not None and self.period is not None:
            raise EstimationError("give a chunk size or a chunk period, not both")
        if self.size is not None and self.size <= 0:
            raise EstimationError(f"chunk size must be a positive number of rows, not {self.size}")
        if self.period is not None and self.period <= timedelta(0):
            raise EstimationError("chunk period must be a positive duration, e.g. 1h")

    def describe(self) -> str:
        if self.size is not None:
            return f"{self.size} rows a chunk"
        if self.period is not None:
            return f"one chunk per {_short(self.period)}"
        return f"{DEFAULT_CHUNKS} chunks"

    def spans(self, data: Outputs) -> list[Chunk]:
        """The chunks of `data` (sorted by time where it has times), as row ranges."""
        n = len(data)
        if self.period is not None:
            if data.times is None:
                raise EstimationError("chunking by period needs the rows' times")
            return _period_chunks(data.times, self.period)
        size = self.size if self.size is not None else n // DEFAULT_CHUNKS
        if size <= 0:
            raise EstimationError(f"{n} rows are too few for {DEFAULT_CHUNKS} chunks; give a chunk size")
        return [_size_chunk(data, start, min(start + size, n)) for start in range(0, n, size)]


@dataclass(frozen=True)
class Chunk:
    """Rows [start, stop) of the time-sorted data; `key` as NannyML names it."""

    key: str
    start: int
    stop: int
    start_time: datetime | None = None
    end_time: datetime | None = None

    @property
    def rows(self) -> int:
        return self.stop - self.start


def _size_chunk(data: Outputs, start: int, stop: int) -> Chunk:
    times = data.times
    first = last = None
    if times is not None and stop > start:
        first, last = _as_datetime(times[start:stop].min()), _as_datetime(times[start:stop].max())
    return Chunk(f"[{start}:{stop - 1}]", start, stop, first, last)


def _period_chunks(times: np.ndarray, period: timedelta) -> list[Chunk]:
    """One chunk per non-empty period [k·period, (k+1)·period) since the epoch, in time order."""
    step = np.timedelta64(int(period / timedelta(microseconds=1)), "us")
    slots = (times - EPOCH) // step
    boundaries = np.flatnonzero(np.diff(slots)) + 1
    starts = np.concatenate(([0], boundaries)) if slots.size else np.zeros(0, dtype=np.intp)
    stops = np.append(starts[1:], slots.size).astype(np.intp)
    chunks = []
    for start, stop in zip(starts.tolist(), stops.tolist(), strict=True):
        begin = EPOCH + slots[start] * step
        chunks.append(
            Chunk(
                str(_as_datetime(begin)),
                start,
                stop,
                _as_datetime(begin),
                _as_datetime(begin + step - np.timedelta64(1, "us")),
            )
        )
    return chunks


def _short(span: timedelta) -> str:
    seconds = span.total_seconds()
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size and seconds % size == 0:
            return f"{int(seconds // size)}{unit}"
    return f"{seconds:g}s"


def _as_datetime(value: np.datetime64) -> datetime:
    return datetime(1970, 1, 1) + timedelta(microseconds=int((value - EPOCH) // np.timedelta64(1, "us")))


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
        data = _time_sorted(data)
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
                return [
                    ChunkEstimate(
                        chunk, period, self._metrics(together.columns(chunk), index, known, together)
                    )
                    for index, chunk in enumerate(spans)
                ]
            calibrated = self.calibrator(data.scores) if self.calibrator is not None else data.scores
            results = []
            for index, chunk in enumerate(spans):
                rows = slice(chunk.start, chunk.stop)
                labels = None if data.labels is None else data.labels[rows]
                columns = (calibrated[rows], data.scores[rows], data.predicted[rows], labels)
                results.append(ChunkEstimate(chunk, period, self._metrics(columns, index, known, None)))
        return results

    def _metrics(
        self,
        columns: Columns,
        index: int,
        known: dict[str, list[float]] | None,
        together: SortedChunks | None,
    ) -> dict[str, MetricChunk]:
        """Every metric on one chunk (`index`): `together` has its cells and counts where no row misses
        a value; otherwise the chunk's expected and realized confusion matrix are counted here, once."""
        cells: Cells | None
        rows: int | None
        if together is not None:
            cells, rows, order = together.cells[index], columns[0].size, SORTED
            counts = None if together.counts is None else together.counts[index]
        else:
            rows = counts = None
            cell_metrics = any(m in CELL_METRICS for m in self.metrics)
            cells = expected_cells(columns) if cell_metrics else None
            if cell_metrics and columns[3] is not None and known is None:
                counts = realized_counts(columns)
            order = None
        return {
            m: self._metric(
                m, columns, cells, counts, order, None if known is None else known[m][index], rows
            )
            for m in self.metrics
        }

    def _metric(
        self,
        metric: str,
        columns: Columns,
        cells: Cells | None,
        counts: Counts | None,
        order: Order | None,
        real: float | None,
        rows: int | None,
    ) -> MetricChunk:
        low, high = self.thresholds[metric]
        try:
            if metric == "roc_auc":
                value = estimate_roc_auc(columns, order)
            else:
                value = ESTIMATES[metric](columns, cells)
            error = sampling_error(metric, self.components[metric], columns, rows)
            real = realized(metric, columns, counts, order) if real is None else real
        except Undefined:  # NannyML's chunk record is all NaN when a metric raises
            nan = math.nan
            return MetricChunk(nan, nan, nan, nan, nan, nan, nan, False)
        upper = min(1.0, value + SAMPLING_ERROR_RANGE * error) if not math.isnan(value + error) else math.nan
        lower = max(0.0, value - SAMPLING_ERROR_RANGE * error) if not math.isnan(value + error) else math.nan
        return MetricChunk(value, error, real, lower, upper, low, high, bool(value < low or value > high))


def _time_sorted(data: Outputs) -> Outputs:
    if data.times is None or bool(np.all(data.times[1:] >= data.times[:-1])):
        return data
    return data.take(np.argsort(data.times, kind="stable"))


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
        order = np.argsort(reference.scores)  # one sort for the AUROC components and the calibration
        with warnings.catch_warnings(), np.errstate(all="ignore"):
            warnings.simplefilter("ignore", RuntimeWarning)
            components = {
                m: auroc_components(labels, reference.scores, reference.predicted, order)
                if m == "roc_auc"
                else COMPONENTS[m](labels, reference.scores, reference.predicted)
                for m in metrics
            }
            thresholds, reference_realized, reference_order = _thresholds(reference, chunking, metrics)
        calibrator = calibrator_for(labels, reference.scores, order, drawn)  # fits each split as drawn
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
        reference_order,
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
    reference: Outputs, chunking: Chunking, metrics: Sequence[str]
) -> tuple[dict[str, tuple[float, float]], dict[str, list[float]], np.ndarray | None]:
    """Per metric, mean ± 3 std of its realized value over the reference chunks, clipped to [0, 1];
    those realized values (the reference's chunks show them), and the order its chunks were sorted
    in (None: a row misses a predicted class, so each chunk went on its own)."""
    data = _time_sorted(reference)
    assert data.labels is not None
    values: dict[str, list[float]] = {m: [] for m in metrics}
    spans = chunking.spans(data)
    together = sorted_chunks((data.scores, data.predicted, data.labels), spans, None, cells=False)
    for index, chunk in enumerate(spans):
        if together is not None and together.counts is not None:
            columns, counts, order = together.columns(chunk), together.counts[index], SORTED
        else:
            rows = slice(chunk.start, chunk.stop)
            scores = data.scores[rows]
            columns = (scores, scores, data.predicted[rows], data.labels[rows])
            counts, order = realized_counts(columns), None
        for metric in metrics:
            values[metric].append(realized(metric, columns, counts, order))
    thresholds = {}
    for metric in metrics:
        mean, std = np.nanmean(values[metric]), np.nanstd(values[metric])
        low, high = mean - std * STD_MULTIPLIER, mean + std * STD_MULTIPLIER
        thresholds[metric] = (0.0 if low <= 0 else float(low)), (1.0 if high >= 1 else float(high))
    return thresholds, values, None if together is None else together.order
