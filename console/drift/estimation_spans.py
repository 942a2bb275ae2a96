"""What CBPE takes and how it splits it: a model's outputs on some rows (`Outputs`) and their
chunks (`Chunking`: by size, by period, or NannyML's default of ten), as row ranges (`Chunk`)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import numpy as np

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


def time_sorted(data: Outputs) -> Outputs:
    """The rows in time order (as they are when they have no times or are in order already)."""
    if data.times is None or bool(np.all(data.times[1:] >= data.times[:-1])):
        return data
    return data.take(np.argsort(data.times, kind="stable"))
