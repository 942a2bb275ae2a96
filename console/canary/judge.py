"""The judge: each metric's canary values against the baseline's, a classification and a sentence
per metric, a score and a verdict (docs/canary.md has the rule).  Pure: arrays in, results out.

U and p are scipy's `mannwhitneyu(canary, baseline, alternative="two-sided", method="auto")`,
computed from each group's sorted values (console/canary/mannwhitney.py says how).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field, replace
from datetime import datetime
from fractions import Fraction
from typing import TYPE_CHECKING, Any, Literal

from console.canary.mannwhitney import Test, mann_whitney

if TYPE_CHECKING:
    import numpy as np

    from console.canary.model import CanarySpec, Direction, JudgeOptions, MetricSpec

Classification = Literal["Pass", "High", "Low", "NoData"]
Change = Literal["higher", "lower", "none"]
Verdict = Literal["pass", "marginal", "fail", "nodata"]


@dataclass(frozen=True)
class MetricResult:
    """One metric's judgement: both groups' sizes and summaries, the test, and what it means."""

    name: str
    critical: bool
    direction: Direction
    n_baseline: int
    n_canary: int
    median_baseline: float
    median_canary: float
    mean_baseline: float
    mean_canary: float
    ratio: float  # mean canary / mean baseline; nan when undefined (baseline mean ≤ 0, no data)
    u: float | None  # the canary's Mann–Whitney U
    p: float | None  # two-sided
    change: Change  # which way the canary's values rank: U above or below n_canary × n_baseline / 2
    classification: Classification
    passed: bool | None  # None for NoData
    sentence: str
    method: str | None = None  # scipy's choice: "exact" or "asymptotic"; None when not tested

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready: nan and infinities as None."""
        return {k: _json_number(v) for k, v in asdict(self).items()}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> MetricResult:
        """The inverse of `as_dict` (None numbers back to nan)."""
        floats = ("median_baseline", "median_canary", "mean_baseline", "mean_canary", "ratio")
        values = {k: data[k] for k in cls.__dataclass_fields__ if k in data}
        for key in floats:
            values[key] = math.nan if values.get(key) is None else float(values[key])
        return cls(**values)


@dataclass
class Analysis:
    """One judgement of a canary: every metric's result, the score, the verdict and why."""

    name: str
    model: str
    baseline_version: str
    canary_version: str
    at: datetime  # UTC, naive
    metrics: list[MetricResult]
    score: float | None  # 100 × passed / judged, half-up to 2 decimals; None when nothing was judged
    verdict: Verdict
    reason: str
    errors: dict[str, str] = field(default_factory=dict)  # metric -> why it was not collected

    def as_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "model": self.model,
            "baseline_version": self.baseline_version,
            "canary_version": self.canary_version,
            "at": self.at.isoformat(),
            "score": self.score,
            "verdict": self.verdict,
            "reason": self.reason,
            "metrics": [m.as_dict() for m in self.metrics],
            "errors": dict(self.errors),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Analysis:
        """The inverse of `as_dict` (e.g. an analysis read back from the store)."""
        return cls(
            name=data["name"],
            model=data["model"],
            baseline_version=data["baseline_version"],
            canary_version=data["canary_version"],
            at=datetime.fromisoformat(data["at"]),
            metrics=[MetricResult.from_dict(m) for m in data["metrics"]],
            score=data["score"],
            verdict=data["verdict"],
            reason=data["reason"],
            errors=dict(data.get("errors") or {}),
        )


def _json_number(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def judge_metric(
    metric: MetricSpec, baseline: np.ndarray, canary: np.ndarray, options: JudgeOptions
) -> MetricResult:
    """One metric's result (NaN values dropped first); one scipy call."""
    b, c = _clean(baseline), _clean(canary)
    test = None
    if _enough(b, c, options) and not _identical(b, c):
        test = mann_whitney([(b, c)])[0]
    return _result(metric, b, c, test, options)


def judge(
    spec: CanarySpec,
    values: Mapping[str, tuple[np.ndarray, np.ndarray]],
    *,
    at: datetime,
    baseline_version: str,
    canary_version: str,
    errors: Mapping[str, str] | None = None,
) -> Analysis:
    """Judge every metric of `spec` (values[name] = (baseline, canary)) and the analysis as a whole."""
    errors = dict(errors or {})
    options = spec.judge
    cleaned: list[tuple[np.ndarray, np.ndarray] | None] = []
    for metric in spec.metrics:
        pair = values.get(metric.name) if metric.name not in errors else None
        cleaned.append(None if pair is None else (_clean(pair[0]), _clean(pair[1])))
    tested = [
        i
        for i, pair in enumerate(cleaned)
        if pair is not None and _enough(*pair, options) and not _identical(*pair)
    ]
    pairs = [pair for i in tested if (pair := cleaned[i]) is not None]
    tests = dict(zip(tested, mann_whitney(pairs), strict=True))
    results = []
    for index, metric in enumerate(spec.metrics):
        pair = cleaned[index]
        if pair is None:
            results.append(_missing(metric, errors.get(metric.name)))
        else:
            results.append(_result(metric, pair[0], pair[1], tests.get(index), options))
    score, verdict, reason = _verdict(results, options)
    return Analysis(
        name=spec.name,
        model=spec.model,
        baseline_version=baseline_version,
        canary_version=canary_version,
        at=at,
        metrics=results,
        score=score,
        verdict=verdict,
        reason=reason,
        errors=errors,
    )


def _clean(values: Any) -> np.ndarray:
    """The values without NaN, sorted: the test only sees ranks, so the order within a group
    does not change U or p, and ranking two sorted groups together is a merge."""
    import numpy as np

    array = np.sort(np.asarray(values, dtype=np.float64).ravel())
    if array.size and np.isnan(array[-1]):  # NaN sorts last
        array = array[: array.size - int(np.count_nonzero(np.isnan(array)))]
    return array


def _enough(baseline: np.ndarray, canary: np.ndarray, options: JudgeOptions) -> bool:
    return min(baseline.size, canary.size) >= options.min_values


def _identical(baseline: np.ndarray, canary: np.ndarray) -> bool:
    """Both (sorted) groups hold one and the same value throughout, or the same values."""
    import numpy as np

    if baseline[0] == baseline[-1] == canary[0] == canary[-1]:  # sorted: first is min, last is max
        return True
    return bool(np.array_equal(baseline, canary))


def _ratio(mean_baseline: float, mean_canary: float) -> float:
    """mean canary / mean baseline; nan unless the baseline's mean is positive and both are finite."""
    if not (math.isfinite(mean_baseline) and math.isfinite(mean_canary)) or mean_baseline <= 0:
        return math.nan
    return mean_canary / mean_baseline


def classify(
    u: float, p: float, n_baseline: int, n_canary: int, ratio: float, high: float, low: float, alpha: float
) -> tuple[Change, Classification]:
    """The default rule: High when significant, ranked higher and the ratio at or over `high`
    (Low the mirror); the ratio is not checked when it is undefined."""
    middle = n_canary * n_baseline / 2
    change: Change = "higher" if u > middle else "lower" if u < middle else "none"
    if not p < alpha:
        return change, "Pass"
    if change == "higher" and (math.isnan(ratio) or ratio >= high):
        return change, "High"
    if change == "lower" and (math.isnan(ratio) or ratio <= low):
        return change, "Low"
    return change, "Pass"


def passes(classification: Classification, direction: Direction) -> bool | None:
    """Whether a classification passes for a metric whose `direction` is the bad change."""
    if classification == "NoData":
        return None
    if classification == "High":
        return direction == "decrease"
    if classification == "Low":
        return direction == "increase"
    return True


_BAD = {"increase": "increase is bad", "decrease": "decrease is bad", "either": "a change either way is bad"}
_HARMLESS = {"increase": "decrease is harmless", "decrease": "increase is harmless"}


def _result(
    metric: MetricSpec, b: np.ndarray, c: np.ndarray, test: Test | None, options: JudgeOptions
) -> MetricResult:
    import numpy as np

    def summary(a: np.ndarray) -> tuple[float, float]:
        """Median (of the sorted values, as np.median computes it) and mean."""
        if not a.size:
            return math.nan, math.nan
        half = a.size // 2
        median = a[half] if a.size % 2 else (a[half - 1] + a[half]) / 2
        return float(median), float(np.mean(a))

    (median_b, mean_b), (median_c, mean_c) = summary(b), summary(c)
    ratio = _ratio(mean_b, mean_c)
    base = MetricResult(
        metric.name, metric.critical, metric.direction, int(b.size), int(c.size),
        median_b, median_c, mean_b, mean_c, ratio, None, None, "none", "NoData", None, "",
    )  # fmt: skip
    if not _enough(b, c, options):
        sentence = (
            f"{metric.name}: {b.size} baseline and {c.size} canary values, "
            f"fewer than min_values {options.min_values} → NoData"
        )
        return replace(base, sentence=sentence)
    if test is None:  # identical samples
        if b.min() == b.max() == c.min() == c.max():
            sentence = f"{metric.name}: every value of both groups is {b[0]:g} → Pass"
        else:
            sentence = f"{metric.name}: both groups hold the same values → Pass"
        return replace(base, classification="Pass", passed=True, sentence=sentence)
    effect = metric.effect
    change, classification = classify(
        test.u, test.p, b.size, c.size, ratio, effect.high, effect.low, options.alpha
    )
    passed = passes(classification, metric.direction)
    sentence = _sentence(metric, ratio, mean_b, mean_c, test.p, change, classification, passed, options)
    return replace(
        base, u=test.u, p=test.p, change=change, classification=classification, passed=passed,
        sentence=sentence, method=test.method,
    )  # fmt: skip


def _sentence(
    metric: MetricSpec,
    ratio: float,
    mean_b: float,
    mean_c: float,
    p: float,
    change: Change,
    classification: Classification,
    passed: bool | None,
    options: JudgeOptions,
) -> str:
    """Why: the change in means, the p-value, and the rule that decided."""
    moved = f"{(ratio - 1) * 100:+.1f}%" if math.isfinite(ratio) else f"mean {mean_b:.4g} → {mean_c:.4g}"
    head = f"{metric.name} {moved} (p={p:.2g})"
    if classification in ("High", "Low"):
        if passed:
            return f"{head}, {_HARMLESS[metric.direction]} → {classification}, passes"
        return f"{head}, {_BAD[metric.direction]} → {classification}"
    if not p < options.alpha:
        return f"{head}, not significant at alpha {options.alpha:g} → Pass"
    if change == "none":
        return f"{head}, neither group ranks higher → Pass"
    ranked_up = change == "higher"
    if (ratio > 1) != ranked_up or ratio == 1:
        return f"{head}, but the canary's values rank {change}: no consistent change → Pass"
    limit = metric.effect.high if ranked_up else metric.effect.low
    return f"{head}, within the limit of {(limit - 1) * 100:+.1f}% → Pass"


def _missing(metric: MetricSpec, error: str | None) -> MetricResult:
    """A metric without values: not collected (its error), or absent from what was collected."""
    why = f"not collected: {error}" if error else "no values were collected"
    nan = math.nan
    return MetricResult(
        metric.name, metric.critical, metric.direction, 0, 0, nan, nan, nan, nan, nan,
        None, None, "none", "NoData", None, f"{metric.name}: {why} → NoData",
    )  # fmt: skip


def score_of(passed: int, judged: int) -> float:
    """100 × passed / judged, rounded half-up to 2 decimals (exactly: a fraction, not a float)."""
    hundredths = Fraction(100 * 100 * passed, judged)
    return math.floor(hundredths + Fraction(1, 2)) / 100


def _verdict(results: list[MetricResult], options: JudgeOptions) -> tuple[float | None, Verdict, str]:
    judged = [r for r in results if r.classification != "NoData"]
    without = len(results) - len(judged)
    tail = f"; {without} metric{'s' if without != 1 else ''} without data" if without else ""
    if not results:
        return None, "nodata", "nodata: the canary has no metrics to judge"
    if not judged:
        return None, "nodata", f"nodata: no metric has {options.min_values} values in both groups{tail}"
    failed = [r for r in judged if not r.passed]
    score = score_of(len(judged) - len(failed), len(judged))
    counted = f"{len(judged) - len(failed)} of {len(judged)} metrics passed"
    named = ", ".join(f"{r.name} {r.classification}" for r in failed)
    critical = [r for r in failed if r.critical]
    if critical:
        which = ", ".join(f"{r.name} is {r.classification}" for r in critical)
        return score, "fail", f"fail: critical metric {which} (score {score:g}, {counted}){tail}"
    if score >= options.pass_:
        return score, "pass", f"pass: score {score:g} ≥ {options.pass_:g} ({counted}){tail}"
    if score >= options.marginal:
        return score, "marginal", f"marginal: score {score:g} < {options.pass_:g} ({counted}; {named}){tail}"
    return score, "fail", f"fail: score {score:g} < {options.marginal:g} ({counted}; {named}){tail}"
