"""The workspace's drift windows evaluated on the store: frames, verdicts, series, histograms."""

from __future__ import annotations

import itertools
import os
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

from console.drift.config import DriftOptions, DriftWindow

if TYPE_CHECKING:
    from console.store import Store

DRIFT_KIND = "drift"
RECORD_COLUMNS = ("id", "ts", "model", "version", "label", "origin")


@dataclass
class WindowResult:
    """One window at one time: the bounds, both frames' sizes, the drift verdicts and quality."""

    window: DriftWindow
    now: datetime
    reference_bounds: tuple[datetime, datetime] | None
    current_bounds: tuple[datetime, datetime]
    drift: Any  # console.drift.stats.DatasetDrift
    quality: Any  # console.drift.quality.QualityReport
    reference: Any = field(repr=False, default=None)  # pandas frames, for histograms
    current: Any = field(repr=False, default=None)

    @property
    def empty(self) -> bool:
        return len(self.current) == 0 or len(self.reference) == 0

    def as_dict(self) -> dict[str, Any]:
        payload = {
            "model": self.window.model,
            "now": self.now.isoformat(),
            "reference": self.window.reference.describe(),
            "reference_window": [t.isoformat() for t in self.reference_bounds]
            if self.reference_bounds
            else None,
            "current_window": [t.isoformat() for t in self.current_bounds],
            "reference_rows": len(self.reference),
            "current_rows": len(self.current),
        }
        payload.update(self.drift.as_dict())
        payload["quality"] = self.quality.as_dict()
        return payload


class WindowError(ValueError):
    """A window that cannot be evaluated as configured (e.g. its reference file is unreadable)."""


def drift_windows(workspace: Any) -> list[tuple[str, DriftWindow]]:
    """(source name, window) for every window of every `drift` source in the workspace."""
    found = []
    for source in workspace.config.sources:
        if source.kind == DRIFT_KIND:
            options = DriftOptions.model_validate(source.options)
            found += [(source.name, window) for window in options.windows]
    return found


def find_window(workspace: Any, model: str) -> DriftWindow:
    """The window configured for `model`; WindowError naming the configured models otherwise."""
    windows = drift_windows(workspace)
    for _, window in windows:
        if window.model == model:
            return window
    known = ", ".join(sorted({w.model for _, w in windows})) or "none"
    raise WindowError(
        f"no drift window for model {model!r} in {workspace.path} (configured: {known}); "
        f"add one under a source of kind drift: windows: [{{model: {model}, reference: …}}]"
    )


_file_cache: dict[tuple[str, int, int], Any] = {}


def reference_file_frame(path: Path) -> Any:
    """A reference file's features (a `features` JSON column is expanded); cached by size and mtime."""
    try:
        stat = path.stat()
    except OSError:
        raise WindowError(f"{path}: reference file not found") from None
    key = (str(path), stat.st_size, stat.st_mtime_ns)
    if key not in _file_cache:
        frame = _read_reference(path)
        _file_cache.clear()
        _file_cache[key] = frame
    return _file_cache[key]


def _read_reference(path: Path) -> Any:
    """The file's records without the record columns (ts, model, …): what drift compares."""
    from collectors.base import SourceError
    from collectors.predictions import read_records

    try:
        frame = read_records(path)
    except SourceError as exc:
        raise WindowError(str(exc)) from None
    if "features" in frame.columns:
        frame = _expand_features(frame)
    return frame.drop(columns=[c for c in RECORD_COLUMNS if c in frame.columns])


def _expand_features(frame: Any) -> Any:
    """A `features` column (objects or JSON text) as one column per feature, before the other columns."""
    import json

    import pandas as pd

    features = pd.json_normalize(
        [v if isinstance(v, dict) else json.loads(v) for v in frame["features"]], max_level=0
    )
    rest = frame.drop(columns=["features"]).reset_index(drop=True)
    return pd.concat([features, rest], axis=1)


def window_frames(
    store: Store, window: DriftWindow, now: datetime, base_dir: str | os.PathLike[str] = "."
) -> tuple[Any, Any, Any, Any]:
    """(reference frame, current frame, reference bounds or None, current bounds) at `now`."""
    from console.store.predictions import records_frame

    current_bounds = window.current_bounds(now)
    current = records_frame(store, window.model, "ts > ? AND ts <= ?", list(current_bounds))
    reference_bounds = window.reference.bounds(now)
    if reference_bounds is None:
        path = Path(window.reference.file or "")
        reference = reference_file_frame(path if path.is_absolute() else Path(base_dir) / path).copy()
    else:
        reference = records_frame(store, window.model, "ts >= ? AND ts < ?", list(reference_bounds))
    return reference, current, reference_bounds, current_bounds


def _columns(window: DriftWindow, reference: Any, current: Any) -> list[str]:
    """The configured columns, else every reference column (features first, prediction last)."""
    if window.columns is not None:
        return list(window.columns)
    names = [str(c) for c in reference.columns if c != "prediction"]
    names += [str(c) for c in _new_columns(reference, current) if c != "prediction"]
    if "prediction" in reference.columns or "prediction" in current.columns:
        names.append("prediction")
    return names


def _new_columns(reference: Any, current: Any) -> list[Any]:
    """Columns of the current data the reference lacks, in their order."""
    return [c for c in current.columns if c not in reference.columns]


def evaluate_window(
    store: Store, window: DriftWindow, now: datetime, base_dir: str | os.PathLike[str] = "."
) -> WindowResult:
    """Drift and quality of one window at `now`; empty sides and missing columns give "no data"."""
    from console.drift.quality import QualityThresholds, data_quality
    from console.drift.stats import dataset_drift

    reference, current, reference_bounds, current_bounds = window_frames(store, window, now, base_dir)
    columns = _columns(window, reference, current)
    for frame in (reference, current):
        _add_missing(frame, columns)
    drift = dataset_drift(
        reference,
        current,
        columns=columns,
        kinds=window.column_types,
        methods={c: m for c, m in window.methods.items() if c in columns},
        thresholds={c: t for c, t in window.thresholds.items() if c in columns},
        drift_share=window.drift_share,
    )
    quality = data_quality(
        reference,
        current,
        columns=columns,
        kinds=window.column_types,
        thresholds=QualityThresholds(min_rows=window.min_rows),
    )
    return WindowResult(window, now, reference_bounds, current_bounds, drift, quality, reference, current)


def _add_missing(frame: Any, columns: list[str]) -> None:
    """A column absent on one side is all-missing there: it reports "no data", not an error."""
    import numpy as np
    import pandas as pd

    for column in columns:
        if column not in frame.columns:
            frame[column] = pd.Series(np.full(len(frame), np.nan), index=frame.index, dtype="float64")


def histogram(result: WindowResult, column: str, bins: int = 10) -> dict[str, Any]:
    """Reference vs current shares of one column: bins at the reference's quantiles (numeric) or per value."""
    from console.drift.catalogue import NUM

    kind = next((c.kind for c in result.drift.columns if c.column == column), None)
    ref_side, cur_side = _side(result.reference, column), _side(result.current, column)
    binned = _numeric_bins(ref_side, cur_side, bins) if kind == NUM else _value_bins(ref_side, cur_side, bins)
    if binned is None:
        return {"column": column, "kind": kind, "labels": [], "reference": [], "current": []}
    labels, (ref_counts, ref_total), (cur_counts, cur_total) = binned
    return {
        "column": column,
        "kind": kind,
        "labels": labels,
        "reference": _shares(ref_counts, ref_total),
        "current": _shares(cur_counts, cur_total),
    }


def _side(frame: Any, column: str) -> Any:
    return frame[column] if column in frame.columns else []


Counted = tuple[Any, int]  # counts per bin, and the cleaned values they came from


def _numeric_bins(ref_side: Any, cur_side: Any, bins: int) -> tuple[list[str], Counted, Counted] | None:
    """Counts per quantile bin of the reference (of the current when the reference is empty); None if both are."""
    import numpy as np

    from console.drift.cleaning import clean_numeric

    ref, cur = clean_numeric(ref_side), clean_numeric(cur_side)
    if ref.size == 0 and cur.size == 0:
        return None
    edges = _quantile_edges(ref if ref.size else cur, np.concatenate([ref, cur]), bins)
    labels = [f"{lo:.4g}..{hi:.4g}" for lo, hi in itertools.pairwise(edges)]
    ref_counts = np.histogram(ref, edges)[0]
    cur_counts = np.histogram(cur, edges)[0]
    return labels, (ref_counts, int(ref.size)), (cur_counts, int(cur.size))


def _value_bins(ref_side: Any, cur_side: Any, bins: int) -> tuple[list[str], Counted, Counted]:
    """Counts of the `bins` most frequent values over both sides, the most frequent first."""
    import numpy as np

    from console.drift.cleaning import clean_categorical

    ref, cur = clean_categorical(ref_side), clean_categorical(cur_side)
    values = sorted({*map(str, ref.tolist()), *map(str, cur.tolist())})
    ref_counts = _counts(ref, values)
    cur_counts = _counts(cur, values)
    order = np.argsort(-(ref_counts + cur_counts), kind="stable")[:bins]
    labels = [values[i] for i in order]
    return labels, (ref_counts[order], int(ref.size)), (cur_counts[order], int(cur.size))


def _shares(counts: Any, total: int) -> list[float]:
    return [float(c) / total if total else 0.0 for c in counts]


def _quantile_edges(basis: Any, both: Any, bins: int) -> Any:
    """Bin edges at the basis's quantiles (the reference's deciles by default), spanning both sides."""
    import numpy as np

    edges = np.unique(np.quantile(basis, np.linspace(0, 1, bins + 1)))
    if edges.size < 2:
        return np.histogram_bin_edges(both, bins=1)
    edges[0], edges[-1] = min(edges[0], both.min()), max(edges[-1], both.max())
    return edges


def _counts(values: Any, keys: list[str]) -> Any:
    import numpy as np
    import pandas as pd

    counts = pd.Series([str(x) for x in values.tolist()], dtype=object).value_counts()
    return np.array([int(counts.get(k, 0)) for k in keys], dtype=np.int64)


def score_history(store: Store, model: str, start: datetime, end: datetime) -> dict[str, list[float]]:
    """Each column's recorded drift score in (start, end], oldest first (from oncall_drift_score)."""
    from console.drift.stats import DRIFT_SCORE

    _, rows = store.query(
        "SELECT json_extract_string(s.labels, '$.column') AS col, x.value FROM samples x "
        "JOIN series s ON s.id = x.series_id WHERE s.name = ? "
        "AND json_extract_string(s.labels, '$.model') = ? AND x.ts > ? AND x.ts <= ? "
        "ORDER BY x.ts",
        [DRIFT_SCORE, model, start, end],
    )
    history: dict[str, list[float]] = {}
    for column, value in rows:
        history.setdefault(str(column), []).append(float(value))
    return history


def history_span(window: DriftWindow) -> timedelta:
    """How far back the console's sparkline looks: a dozen current windows, at least 6 h."""
    return max(window.current * 12, timedelta(hours=6))
