"""Shadow comparison: a champion and a shadow version of a model scored the same requests.

The champion's records are the served ones (table `predictions`); a shadow's are stored apart
(table `shadow_predictions`, see the `predictions` source's `shadow_versions`). Either version
is read from both tables, so any two versions can be compared. A request belongs to the window
(now − window, now] by its first record; records after `now` are not seen yet. The report says
how many requests each version scored alone: they are counted, never silently dropped.
"""

from __future__ import annotations

import heapq
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

import numpy as np

from console.canary.model import ShadowOptions
from console.canary.shadow_stats import (
    QUANTILES,
    Agreement,
    Performance,
    ScoreDiffs,
    agreement,
    performance,
    score_diffs,
)

if TYPE_CHECKING:
    import pyarrow as pa

    from console.canary.model import CanarySpec
    from console.drift.stats import ColumnDrift
    from console.store import Store

EXAMPLES = 5  # ids shown of the requests only one version scored
NO_LABELS = "no labels yet"
NOT_BINARY = "labels are not 0/1"


@dataclass(frozen=True)
class Coverage:
    """Which requests each version scored in the window, and examples of those only one scored."""

    champion_records: int
    shadow_records: int
    paired: int  # requests both versions scored
    champion_only: int
    shadow_only: int
    unscored_pairs: int  # paired requests where either record has no score
    champion_only_ids: list[str]  # the first few, in text order
    shadow_only_ids: list[str]

    @property
    def scored_pairs(self) -> int:
        return self.paired - self.unscored_pairs

    def as_dict(self) -> dict[str, Any]:
        return {
            "champion_records": self.champion_records,
            "shadow_records": self.shadow_records,
            "paired": self.paired,
            "scored_pairs": self.scored_pairs,
            "unscored_pairs": self.unscored_pairs,
            "champion_only": self.champion_only,
            "shadow_only": self.shadow_only,
            "champion_only_ids": self.champion_only_ids,
            "shadow_only_ids": self.shadow_only_ids,
        }


@dataclass(frozen=True)
class Labelled:
    """Both versions' performance on the scored pairs whose label has arrived."""

    status: str  # "ok", "no labels yet", "labels are not 0/1"
    labelled: int
    unlabelled: int
    champion: Performance | None
    shadow: Performance | None
    detail: str = ""

    def as_dict(self) -> dict[str, Any]:
        return {
            "status": self.status,
            "labelled": self.labelled,
            "unlabelled": self.unlabelled,
            "detail": self.detail,
            "champion": self.champion.as_dict() if self.champion else None,
            "shadow": self.shadow.as_dict() if self.shadow else None,
        }


@dataclass(frozen=True)
class ShadowReport:
    """A shadow comparison at `at`: coverage, agreement, score differences, output drift, performance."""

    model: str
    champion: str
    shadow: str
    at: datetime
    start: datetime
    threshold: float
    coverage: Coverage
    agreement: Agreement
    diffs: ScoreDiffs
    drift: ColumnDrift
    performance: Labelled = field(repr=False)

    def as_dict(self) -> dict[str, Any]:
        return {
            "model": self.model,
            "champion": self.champion,
            "shadow": self.shadow,
            "at": _iso(self.at),
            "window": [_iso(self.start), _iso(self.at)],
            "threshold": self.threshold,
            "coverage": self.coverage.as_dict(),
            "agreement": self.agreement.as_dict(),
            "score_diff": self.diffs.as_dict(),
            "output_drift": self.drift.as_dict(),
            "performance": self.performance.as_dict(),
        }


def spec_shadow(
    store: Store, spec: CanarySpec, baseline_version: str, canary_version: str, now: datetime
) -> ShadowReport | None:
    """For `canary run`: the shadow report of a spec with `shadow:` set (the canary version as the
    shadow of the baseline, versions already resolved), its series written; None without `shadow:`."""
    if spec.shadow is None:
        return None
    report = shadow_report(store, spec.model, baseline_version, canary_version, now, spec.shadow)
    record_report(store, report)
    return report


def _iso(moment: datetime) -> str:
    return moment.isoformat() + "Z"  # the store's times are UTC


def shadow_report(
    store: Store,
    model: str,
    champion: str,
    shadow: str,
    now: datetime,
    options: ShadowOptions | None = None,
) -> ShadowReport:
    """The comparison of `shadow` against `champion` over the window ending at `now`.

    Raises ValueError when both name the same version, DriftError for an unknown drift test."""
    options = options or ShadowOptions()
    if champion == shadow:
        raise ValueError(f"champion and shadow are the same version ({champion!r}); name two versions")
    start = now - options.window
    requests = read_requests(store, model, champion, shadow, start, now)
    return compare(
        requests, model=model, champion=champion, shadow=shadow, at=now, start=start, options=options
    )


_REQUESTS = """
WITH records AS (
    SELECT id, version, prediction, 0 AS place FROM predictions
    WHERE model = $model AND version IN ($champion, $shadow) AND ts > $start AND ts <= $end
    UNION ALL
    SELECT id, version, prediction, 1 AS place FROM shadow_predictions
    WHERE model = $model AND version IN ($champion, $shadow) AND ts > $start AND ts <= $end
), earlier AS (  -- requests of the window a version scored before it began: an earlier window's
    SELECT id FROM predictions
    WHERE model = $model AND version IN ($champion, $shadow) AND ts <= $start AND id IN (SELECT id FROM records)
    UNION ALL
    SELECT id FROM shadow_predictions
    WHERE model = $model AND version IN ($champion, $shadow) AND ts <= $start AND id IN (SELECT id FROM records)
), requests AS (  -- a version's score: the served record's where both tables hold one
    SELECT id,
        bool_or(version = $champion) AS has_champion,
        bool_or(version = $shadow) AS has_shadow,
        arg_min_null(prediction, place) FILTER (WHERE version = $champion) AS champion,
        arg_min_null(prediction, place) FILTER (WHERE version = $shadow) AS shadow
    FROM records WHERE id NOT IN (SELECT id FROM earlier) GROUP BY id
)
SELECT CASE WHEN r.has_champion AND r.has_shadow THEN NULL ELSE r.id END AS lone_id,
    r.has_champion, r.has_shadow, r.champion, r.shadow, l.label
FROM requests r
LEFT JOIN prediction_labels l ON l.model = $model AND l.id = r.id AND l.ts <= $end
"""


def read_requests(
    store: Store, model: str, champion: str, shadow: str, start: datetime, end: datetime
) -> Any:
    """One row a request of the window, in no order: has_champion, has_shadow, both scores, the
    label known by `end` (NaN where absent) and, for a request one version scored alone, its id
    (`lone_id`), as a pandas DataFrame."""
    params = {"model": model, "champion": champion, "shadow": shadow, "start": start, "end": end}
    cur = store.cursor()
    try:
        return cur.execute(_REQUESTS, params).df()
    finally:
        cur.close()


def compare(
    requests: Any,
    *,
    model: str,
    champion: str,
    shadow: str,
    at: datetime,
    start: datetime,
    options: ShadowOptions,
) -> ShadowReport:
    """The report from the window's requests (as `read_requests` gives them)."""
    from console.drift.catalogue import NUM
    from console.drift.stats import column_drift

    has_champion = requests["has_champion"].to_numpy(dtype=bool)
    has_shadow = requests["has_shadow"].to_numpy(dtype=bool)
    champion_scores = requests["champion"].to_numpy(dtype="float64", na_value=np.nan)
    shadow_scores = requests["shadow"].to_numpy(dtype="float64", na_value=np.nan)
    paired = has_champion & has_shadow
    scored = paired & ~np.isnan(champion_scores) & ~np.isnan(shadow_scores)
    lone = requests["lone_id"].to_numpy(dtype=object)
    coverage = Coverage(
        champion_records=int(np.count_nonzero(has_champion)),
        shadow_records=int(np.count_nonzero(has_shadow)),
        paired=int(np.count_nonzero(paired)),
        champion_only=int(np.count_nonzero(has_champion & ~has_shadow)),
        shadow_only=int(np.count_nonzero(has_shadow & ~has_champion)),
        unscored_pairs=int(np.count_nonzero(paired & ~scored)),
        champion_only_ids=heapq.nsmallest(EXAMPLES, map(str, lone[has_champion & ~has_shadow])),
        shadow_only_ids=heapq.nsmallest(EXAMPLES, map(str, lone[has_shadow & ~has_champion])),
    )
    labels = requests["label"].to_numpy(dtype="float64", na_value=np.nan)
    # the pairs in one order whatever order the store gave them: sums are the same on every run
    order = np.lexsort((labels[scored], shadow_scores[scored], champion_scores[scored]))
    pair_champion, pair_shadow = champion_scores[scored][order], shadow_scores[scored][order]
    labels = labels[scored][order]
    return ShadowReport(
        model=model,
        champion=champion,
        shadow=shadow,
        at=at,
        start=start,
        threshold=options.threshold,
        coverage=coverage,
        agreement=agreement(pair_champion, pair_shadow, options.threshold),
        diffs=score_diffs(pair_champion, pair_shadow),
        drift=column_drift("prediction", pair_champion, pair_shadow, NUM, options.drift_method),
        performance=labelled(champion, shadow, pair_champion, pair_shadow, labels, options.threshold),
    )


def labelled(
    champion: str,
    shadow: str,
    champion_scores: np.ndarray,
    shadow_scores: np.ndarray,
    labels: np.ndarray,
    threshold: float,
) -> Labelled:
    """Each version's performance on the same requests: the scored pairs with a label (NaN: none yet)."""
    known = ~np.isnan(labels)
    count, missing = int(np.count_nonzero(known)), int(np.count_nonzero(~known))
    if count == 0:
        return Labelled(NO_LABELS, 0, missing, None, None)
    values = labels[known]
    odd = np.unique(values[(values != 0) & (values != 1)])
    if odd.size:
        shown = ", ".join(f"{v:g}" for v in odd[:EXAMPLES])
        return Labelled(NOT_BINARY, count, missing, None, None, f"labels seen besides 0 and 1: {shown}")
    return Labelled(
        "ok",
        count,
        missing,
        performance(champion, champion_scores[known], values, threshold),
        performance(shadow, shadow_scores[known], values, threshold),
    )


def versions_seen(store: Store, model: str, start: datetime, end: datetime) -> dict[str, int]:
    """Records per version of `model` with start < ts <= end in either table: what a version
    named wrongly can be corrected to."""
    _, rows = store.query(
        """
        SELECT coalesce(version, '(none)'), count(*) FROM (
            SELECT version FROM predictions WHERE model = $1 AND ts > $2 AND ts <= $3
            UNION ALL
            SELECT version FROM shadow_predictions WHERE model = $1 AND ts > $2 AND ts <= $3
        ) GROUP BY ALL ORDER BY 1
        """,
        [model, start, end],
    )
    return {str(version): int(count) for version, count in rows}


# --- the report as series ------------------------------------------------------------------------

AGREEMENT = "oncall_shadow_agreement"
PAIRS = "oncall_shadow_pairs"
UNPAIRED = "oncall_shadow_unpaired"  # {side}: requests only that version scored
DIFF_MEAN = "oncall_shadow_score_diff_mean"
DIFF_STD = "oncall_shadow_score_diff_std"
DIFF_MAX_ABS = "oncall_shadow_score_diff_max_abs"
DIFF_QUANTILE = "oncall_shadow_score_diff"  # {quantile}
OUTPUT_DRIFT = "oncall_shadow_output_drift"  # {test}: the drift test's score
OUTPUT_DRIFT_DETECTED = "oncall_shadow_output_drift_detected"
LABELLED = "oncall_shadow_labelled"
PERFORMANCE = ("accuracy", "precision", "recall", "f1", "roc_auc")  # oncall_shadow_<name>{side, version}


def report_samples(report: ShadowReport) -> pa.Table:
    """The report as samples (name, labels, ts, value) for `ingest_samples`; figures that are
    undefined (no pairs, no labels) are left out, not written as 0."""
    import pyarrow as pa

    from console.store import canonical_labels

    base = {"model": report.model, "champion": report.champion, "shadow": report.shadow}
    kept = [
        (name, canonical_labels({**base, **extra}), float(value))
        for name, extra, value in _figures(report)
        if value is not None
    ]
    return pa.table(
        {
            "name": pa.array([r[0] for r in kept], pa.string()),
            "labels": pa.array([r[1] for r in kept], pa.string()),
            "ts": pa.array([report.at] * len(kept), pa.timestamp("us")),
            "value": pa.array([r[2] for r in kept], pa.float64()),
        }
    )


def _figures(report: ShadowReport) -> list[tuple[str, dict[str, str], float | None]]:
    diffs, drift = report.diffs, report.drift
    figures: list[tuple[str, dict[str, str], float | None]] = [
        (AGREEMENT, {}, report.agreement.rate),
        (PAIRS, {}, report.coverage.scored_pairs),
        (UNPAIRED, {"side": "champion"}, report.coverage.champion_only),
        (UNPAIRED, {"side": "shadow"}, report.coverage.shadow_only),
        (DIFF_MEAN, {}, diffs.mean),
        (DIFF_STD, {}, diffs.std),
        (DIFF_MAX_ABS, {}, diffs.max_abs),
    ]
    figures += [
        (DIFF_QUANTILE, {"quantile": f"{QUANTILES[name]:g}"}, value)
        for name, value in diffs.quantiles().items()
    ]
    if drift.status == "ok":
        figures.append((OUTPUT_DRIFT, {"test": str(drift.method)}, drift.score))
        figures.append((OUTPUT_DRIFT_DETECTED, {}, 1.0 if drift.drifted else 0.0))
    figures.append((LABELLED, {}, report.performance.labelled))
    for side, result in (("champion", report.performance.champion), ("shadow", report.performance.shadow)):
        if result is not None:
            extra = {"side": side, "version": result.version}
            figures += [(f"oncall_shadow_{name}", extra, getattr(result, name)) for name in PERFORMANCE]
    return figures


def record_report(store: Store, report: ShadowReport) -> int:
    """Write the report's series into the store's samples; the number of samples added (a report
    recorded again at the same `at` adds none)."""
    from console.store import ingest_samples

    return ingest_samples(store, report_samples(report))
