"""Performance and fairness by segment on a model's labelled prediction records, as Fairlearn's
`MetricFrame` computes them (docs/segments.md).

One DuckDB group-by counts each group's confusion matrix; every number is then a division of
those counts, the one Fairlearn and scikit-learn make: selection rate, TPR, FPR, accuracy and
precision per group, demographic-parity and equalized-odds differences and ratios between groups.
"""

from __future__ import annotations

import itertools
import json
import math
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from console.drift.segments_sql import RECORD_FIELDS, NoRecords, SegmentError, count_groups

if TYPE_CHECKING:
    from console.store import Store

__all__ = ["RECORD_FIELDS", "NoRecords", "SegmentError", "evaluate_segments"]

GROUP_METRICS = ("count", "selection_rate", "tpr", "fpr", "accuracy", "precision")
FAIRNESS_METRICS = (
    "demographic_parity_difference",
    "demographic_parity_ratio",
    "equalized_odds_difference",
    "equalized_odds_ratio",
)
SEGMENT_SERIES = {name: f"oncall_segment_{name}" for name in GROUP_METRICS}
FAIRNESS_SERIES = {name: f"oncall_fairness_{name}" for name in FAIRNESS_METRICS}
MAX_COMBINATIONS = 100_000  # intersectional groups listed, the empty ones included (as Fairlearn does)


@dataclass(frozen=True)
class Group:
    """One group's numbers; every one NaN for a combination of values no record has."""

    values: tuple[str, ...]
    count: float
    selection_rate: float
    tpr: float
    fpr: float
    accuracy: float
    precision: float

    def metric(self, name: str) -> float:
        return float(getattr(self, name))

    def as_dict(self, by: Sequence[str]) -> dict[str, Any]:
        return {
            "segment": segment_text(by, self.values),
            "values": dict(zip(by, self.values, strict=True)),
            **_numbers(self),
        }


@dataclass
class SegmentReport:
    """Every group of `by` over one window, the overall numbers and the fairness measures."""

    model: str
    by: tuple[str, ...]
    window: tuple[datetime, datetime]  # records with start < ts <= end; labels known by end
    threshold: float
    groups: list[Group]
    overall: Group
    fairness: dict[str, float]
    left_out: dict[str, int] = field(default_factory=dict)  # records not counted, by why

    def as_dict(self) -> dict[str, Any]:
        return {
            "model": self.model,
            "by": list(self.by),
            "window": [t.isoformat() for t in self.window],
            "threshold": self.threshold,
            "left_out": self.left_out,
            "overall": _numbers(self.overall),
            "fairness": self.fairness,
            "groups": [g.as_dict(self.by) for g in self.groups],
        }

    def samples(self, ts: datetime) -> Any:
        """The numbers as samples (name, labels, ts, value) for `ingest_samples`; a NaN is not written."""
        import pyarrow as pa

        from console.store import canonical_labels

        by = by_text(self.by)
        names, labels, values = [], [], []
        for group in self.groups:
            segment = canonical_labels(
                {"model": self.model, "by": by, "segment": segment_text(self.by, group.values)}
            )
            for name in GROUP_METRICS:
                if not math.isnan(group.metric(name)):
                    names.append(SEGMENT_SERIES[name])
                    labels.append(segment)
                    values.append(group.metric(name))
        for name, value in self.fairness.items():
            if not math.isnan(value):
                names.append(FAIRNESS_SERIES[name])
                labels.append(canonical_labels({"model": self.model, "by": by}))
                values.append(value)
        return pa.table(
            {
                "name": pa.array(names, pa.string()),
                "labels": pa.array(labels, pa.string()),
                "ts": pa.array([ts] * len(names), pa.timestamp("us")),
                "value": pa.array(values, pa.float64()),
            }
        )


def _numbers(group: Group) -> dict[str, Any]:
    """A group's numbers for JSON: the count as an integer (NaN for an empty combination)."""
    numbers: dict[str, Any] = {name: group.metric(name) for name in GROUP_METRICS}
    if not math.isnan(group.count):
        numbers["count"] = int(group.count)
    return numbers


_BARE = re.compile(r'[^,="\\\s\x00-\x1f\x7f](?:[^,="\\\x00-\x1f\x7f]*[^,="\\\s\x00-\x1f\x7f])?')


def _quoted(text: str) -> str:
    """`text` as is when it cannot be misread inside a segment label, else as a JSON string."""
    return text if _BARE.fullmatch(text) else json.dumps(text, ensure_ascii=False)


def segment_text(by: Sequence[str], values: Sequence[str]) -> str:
    """The `segment` label of a group: `region=EU,age_band=30-40`; a name or value holding `,`, `=`,
    a quote, a backslash or a control character, with leading or trailing space, or empty, is
    written as a JSON string."""
    return ",".join(f"{_quoted(name)}={_quoted(value)}" for name, value in zip(by, values, strict=True))


def by_text(by: Sequence[str]) -> str:
    """The `by` label: the grouping columns, comma-separated, quoted as in `segment_text`."""
    return ",".join(_quoted(name) for name in by)


def group_numbers(values: tuple[str, ...], n: int, tp: int, fp: int, fn: int, tn: int) -> Group:
    """One non-empty group's numbers from its confusion matrix, as Fairlearn and scikit-learn give them.

    TPR and FPR come from `confusion_matrix(normalize="true")`, which turns 0/0 into 0: a group with
    no positives has TPR 0, one with no negatives FPR 0. Precision is `precision_score` with its
    default `zero_division="warn"`: 0 when nothing is predicted positive."""
    return Group(
        values=values,
        count=float(n),
        selection_rate=(tp + fp) / n,
        tpr=tp / (tp + fn) if tp + fn else 0.0,
        fpr=fp / (fp + tn) if fp + tn else 0.0,
        accuracy=(tp + tn) / n,
        precision=tp / (tp + fp) if tp + fp else 0.0,
    )


def _empty(values: tuple[str, ...]) -> Group:
    nan = math.nan
    return Group(values, nan, nan, nan, nan, nan, nan)


def _spread(groups: Sequence[Group], metric: str) -> tuple[float, float]:
    """(max − min, min / max) of a metric over the groups that have it, as `MetricFrame.difference()`
    and `.ratio()` with `method="between_groups"`: NaN groups are skipped, 0 / 0 is NaN."""
    present = [g.metric(metric) for g in groups if not math.isnan(g.metric(metric))]
    if not present:
        return math.nan, math.nan
    low, high = min(present), max(present)
    return high - low, (low / high if high else math.nan)


def fairness(groups: Sequence[Group]) -> dict[str, float]:
    """Demographic parity and equalized odds between groups, as Fairlearn's functions of those names.

    Equalized odds take the worse of TPR's and FPR's with Python's `max` (difference) and `min`
    (ratio) over (TPR, FPR), as Fairlearn does: a NaN for TPR wins, a NaN for FPR is passed over."""
    dp_difference, dp_ratio = _spread(groups, "selection_rate")
    tpr_difference, tpr_ratio = _spread(groups, "tpr")
    fpr_difference, fpr_ratio = _spread(groups, "fpr")
    return {
        "demographic_parity_difference": dp_difference,
        "demographic_parity_ratio": dp_ratio,
        "equalized_odds_difference": max([tpr_difference, fpr_difference]),
        "equalized_odds_ratio": min([tpr_ratio, fpr_ratio]),
    }


def groups_from_counts(by: Sequence[str], rows: Sequence[Sequence[Any]]) -> list[Group]:
    """Every group from rows of (value per column..., n, tp, fp, fn, tn), sorted by values (numbers
    as numbers when every value of the column is one, as pandas sorts a numeric column).

    With more than one column, every combination of the values seen is a group, as in Fairlearn's
    `MetricFrame` (it reindexes to the product of each column's values): the empty ones are NaN."""
    width = len(by)
    found = {tuple(row[:width]): row[width:] for row in rows}
    levels = [_in_order({key[i] for key in found}) for i in range(width)]
    if width == 1:
        keys: list[tuple[str, ...]] = [(value,) for value in levels[0]]
    else:
        combinations = math.prod(len(level) for level in levels)
        if combinations > MAX_COMBINATIONS:
            raise SegmentError(
                f"--by {by_text(by)}: {combinations} combinations of values (more than {MAX_COMBINATIONS}); "
                "group by fewer or coarser columns"
            )
        keys = list(itertools.product(*levels))
    return [
        group_numbers(key, *(int(c) for c in found[key])) if key in found else _empty(key) for key in keys
    ]


def _in_order(values: set[str]) -> list[str]:
    """A column's values sorted: by number when all are finite numbers, else by text."""
    try:
        numbers = {value: float(value) for value in values}
    except ValueError:
        return sorted(values)
    if not all(math.isfinite(n) for n in numbers.values()):
        return sorted(values)
    return sorted(values, key=lambda value: (numbers[value], value))


def overall_numbers(rows: Sequence[Sequence[Any]], width: int) -> Group:
    """The numbers over every record counted (`MetricFrame.overall`)."""
    n, tp, fp, fn, tn = (sum(int(row[width + i]) for row in rows) for i in range(5))
    return group_numbers((), n, tp, fp, fn, tn)


def evaluate_segments(
    store: Store,
    model: str,
    by: Sequence[str],
    at: datetime,
    window: timedelta,
    *,
    threshold: float = 0.5,
    missing: str | None = None,
) -> SegmentReport:
    """The segments of `model`'s records with at − window < ts <= at whose label was known by `at`.

    The decided class is prediction >= threshold; a label must be 0 or 1. A record without a value
    for a grouping column is refused, as Fairlearn refuses missing sensitive values, unless
    `missing` names the group it joins."""
    by = tuple(by)
    if not by:
        raise SegmentError("--by: name at least one column (a feature or a record field: version, origin)")
    if len(set(by)) != len(by):
        raise SegmentError(f"--by {by_text(by)}: a column is named twice")
    if not math.isfinite(threshold):
        raise SegmentError(f"--threshold {threshold}: not a finite number")
    bounds = (at - window, at)
    rows, left_out = count_groups(store, model, by, bounds, threshold, missing)
    if not rows:
        raise NoRecords(
            f"{model}: no labelled record with a prediction in {bounds[0]:%Y-%m-%d %H:%M}..{bounds[1]:%Y-%m-%d %H:%M} "
            f"({_said(left_out)}); widen --window or move --at"
        )
    groups = groups_from_counts(by, rows)
    return SegmentReport(
        model=model,
        by=by,
        window=bounds,
        threshold=threshold,
        groups=groups,
        overall=overall_numbers(rows, len(by)),
        fairness=fairness(groups),
        left_out=left_out,
    )


def _said(left_out: dict[str, int]) -> str:
    told = [f"{n} {why}" for why, n in left_out.items() if n]
    return ", ".join(told) if told else "no record"
