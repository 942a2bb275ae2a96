"""The canary judge against scipy's mannwhitneyu on generated cases.

Every U and p is scipy's (one call per metric, method="auto") to 1e-9, and every classification
is the issue's rule computed here from scipy's output; the vectorised path (`judge`, one scipy
call per batch of metrics) gives what `judge_metric` gives one metric at a time.
"""

from __future__ import annotations

import math
from datetime import datetime

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.stats import mannwhitneyu

from console.canary.judge import judge, judge_metric, score_of
from console.canary.model import CanarySpec, JudgeOptions, MetricSpec

AT = datetime(2026, 12, 3, 12)
OPTIONS = JudgeOptions()
QUERY = "sum by (version) (rate(requests_total[5m]))"


def metric(name="m", direction="increase", high=1.1, low=0.9, critical=False) -> MetricSpec:
    return MetricSpec(
        name=name, query=QUERY, direction=direction, effect={"high": high, "low": low}, critical=critical
    )


def spec(metrics: list[MetricSpec], **judge_options) -> CanarySpec:
    return CanarySpec(
        name="c",
        model="fraud",
        baseline="3",
        canary="4",
        metrics=metrics,
        judge=JudgeOptions(**judge_options),
    )


def expected(m: MetricSpec, baseline, canary, options: JudgeOptions = OPTIONS):
    """(classification, passed, U, p) by the issue's rule, from scipy's answer for this metric alone."""
    b, c = np.asarray(baseline, float), np.asarray(canary, float)
    b, c = b[~np.isnan(b)], c[~np.isnan(c)]
    if min(len(b), len(c)) < options.min_values:
        return "NoData", None, None, None
    if sorted(b) == sorted(c) or len(set(b) | set(c)) == 1:
        return "Pass", True, None, None
    res = mannwhitneyu(c, b, alternative="two-sided", method="auto")
    ratio = c.mean() / b.mean() if b.mean() > 0 else math.nan
    higher, lower = res.statistic > len(b) * len(c) / 2, res.statistic < len(b) * len(c) / 2
    significant = res.pvalue < options.alpha
    if significant and higher and (math.isnan(ratio) or ratio >= m.effect.high):
        classification = "High"
    elif significant and lower and (math.isnan(ratio) or ratio <= m.effect.low):
        classification = "Low"
    else:
        classification = "Pass"
    bad = {"High": ("increase", "either"), "Low": ("decrease", "either"), "Pass": ()}[classification]
    return classification, m.direction not in bad, float(res.statistic), float(res.pvalue)


def assert_matches(result, m, baseline, canary, options=OPTIONS):
    classification, passed, u, p = expected(m, baseline, canary, options)
    assert (result.classification, result.passed) == (classification, passed), result.sentence
    if u is None:
        assert result.u is None and result.p is None
    else:
        assert result.u == pytest.approx(u, abs=1e-9) and result.p == pytest.approx(p, abs=1e-9, rel=1e-9)


def generated(kind: str, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """One generated (baseline, canary) pair of the named kind."""
    rng = np.random.default_rng(seed)
    n = int(rng.integers(5, 120))
    base = rng.lognormal(0.0, 0.3, n)
    if kind == "identical":
        return base, rng.permutation(base)
    if kind == "constant":
        value = float(rng.choice([0.0, 1.0, 0.25]))
        return np.full(n, value), np.full(int(rng.integers(5, 120)), value)
    if kind == "regression":  # a clear rise: 30–80%
        return base, rng.lognormal(0.0, 0.3, n) * rng.uniform(1.3, 1.8)
    if kind == "drop":
        return base, rng.lognormal(0.0, 0.3, n) * rng.uniform(0.3, 0.7)
    if kind == "small":  # n = 5, continuous values: scipy's exact method
        return rng.normal(10, 2, 5), rng.normal(10 + rng.uniform(0, 4), 2, 5)
    if kind == "ties":  # few distinct values, sizes small and large
        m = int(rng.choice([5, 6, 8, 20, 60]))
        return rng.integers(0, 4, m).astype(float), rng.integers(0, 5, int(rng.choice([5, 7, 30]))).astype(
            float
        )
    if kind == "zeros":  # an error rate of 0 in the baseline: the ratio is undefined
        return np.zeros(n), (rng.random(n) < 0.3).astype(float)
    if kind == "large":  # long groups, as days of 1-minute values
        m = int(rng.integers(500, 4000))
        return rng.lognormal(0, 0.3, m), rng.lognormal(
            rng.uniform(-0.05, 0.05), 0.3, int(rng.integers(500, 4000))
        )
    if kind == "large_ties":  # long groups of few distinct values (counts, rounded latencies)
        m = int(rng.integers(500, 4000))
        return rng.integers(0, 30, m).astype(float), rng.integers(0, 31, int(rng.integers(500, 4000))).astype(
            float
        )
    if kind == "few_vs_many":  # a canary just started against a long baseline: exact, large product
        few = int(rng.integers(5, 9))
        return rng.lognormal(0, 0.3, int(rng.integers(1400, 2500))), rng.lognormal(0.2, 0.3, few)
    if kind == "nan":
        b, c = base.copy(), rng.lognormal(0.1, 0.3, n)
        b[rng.random(n) < 0.2] = np.nan
        c[rng.random(n) < 0.2] = np.nan
        return b, c
    raise AssertionError(kind)


KINDS = ["identical", "constant", "regression", "drop", "small", "ties", "zeros", "large", "large_ties"]
KINDS += ["few_vs_many", "nan"]


@settings(max_examples=300, deadline=None)
@given(
    kind=st.sampled_from(KINDS),
    seed=st.integers(0, 2**32 - 1),
    direction=st.sampled_from(["increase", "decrease", "either"]),
)
def test_each_metric_matches_scipy_and_the_rule(kind, seed, direction):
    baseline, canary = generated(kind, seed)
    m = metric(direction=direction)
    assert_matches(judge_metric(m, baseline, canary, OPTIONS), m, baseline, canary)


@pytest.mark.parametrize("seed", range(20))
def test_a_clear_regression_is_high_and_fails_where_an_increase_is_bad(seed):
    baseline, canary = generated("regression", seed)
    for direction, passed in (("increase", False), ("either", False), ("decrease", True)):
        result = judge_metric(metric("latency_p99", direction), baseline, canary, OPTIONS)
        assert (result.classification, result.passed, result.change) == ("High", passed, "higher")
        assert_matches(result, metric("latency_p99", direction), baseline, canary)


def test_the_sentence_says_the_change_the_p_value_and_the_rule():
    rng = np.random.default_rng(3)
    baseline, canary = rng.lognormal(0, 0.2, 60), rng.lognormal(0, 0.2, 60) * 1.4
    bad = judge_metric(metric("latency_p99"), baseline, canary, OPTIONS)
    percent = f"{(canary.mean() / baseline.mean() - 1) * 100:+.1f}%"
    assert bad.sentence == f"latency_p99 {percent} (p={bad.p:.2g}), increase is bad → High"
    harmless = judge_metric(metric("latency_p99", "decrease"), baseline, canary, OPTIONS)
    assert harmless.sentence.endswith("increase is harmless → High, passes") and harmless.passed
    quiet = judge_metric(metric("latency_p99"), baseline, baseline * 1.0001, OPTIONS)
    assert quiet.sentence.endswith("not significant at alpha 0.05 → Pass")
    few = judge_metric(metric("latency_p99"), baseline[:4], canary, OPTIONS)
    assert few.sentence == "latency_p99: 4 baseline and 60 canary values, fewer than min_values 5 → NoData"


def test_small_samples_use_the_exact_method_as_scipy_does():
    rng = np.random.default_rng(11)
    for _ in range(50):
        baseline, canary = rng.normal(10, 2, 5), rng.normal(12, 2, 5)
        result = judge_metric(metric(), baseline, canary, OPTIONS)
        exact = mannwhitneyu(canary, baseline, method="exact")
        assert result.method == "exact" and result.p == pytest.approx(exact.pvalue, abs=1e-12)


def test_a_few_canary_values_against_a_week_of_baseline_are_judged_at_once():
    """scipy's exact distribution for 8 values against 10,080 takes ~19 s; the judge's, well under.
    Every canary value above every baseline value: p = 2 / C(10,088, 8), the one extreme arrangement."""
    import time

    rng = np.random.default_rng(4)
    baseline = rng.lognormal(0, 0.3, 10_080)
    canary = baseline.max() + 1 + np.arange(8.0)
    started = time.perf_counter()
    result = judge_metric(metric(), baseline, canary, OPTIONS)
    assert time.perf_counter() - started < 5
    assert (result.method, result.classification, result.u) == ("exact", "High", 8 * 10_080)
    assert result.p == pytest.approx(2 / math.comb(10_088, 8), rel=1e-12, abs=0)


def test_a_significant_change_under_the_effect_limit_passes():
    rng = np.random.default_rng(5)
    baseline = rng.normal(100, 1, 500)
    canary = rng.normal(103, 1, 500)  # p ~ 0, +3% < +10%
    result = judge_metric(metric("latency"), baseline, canary, OPTIONS)
    assert result.p < 1e-9 and result.classification == "Pass"
    assert result.sentence.endswith("within the limit of +10.0% → Pass")
    tight = judge_metric(metric("latency", high=1.02), baseline, canary, OPTIONS)
    assert tight.classification == "High"


def batch_cases(seed: int) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """Many metrics, several of one size: tied and untied small ones side by side, NaNs, too few."""
    rng = np.random.default_rng(seed)
    cases: dict[str, tuple[np.ndarray, np.ndarray]] = {}
    for index in range(40):
        kind = KINDS[index % len(KINDS)]
        cases[f"{kind}{index}"] = generated(kind, int(rng.integers(2**32)))
    for index in range(6):  # same sizes (6, 6): three with ties, three without
        if index % 2:
            cases[f"small_ties{index}"] = (
                rng.integers(0, 3, 6).astype(float),
                rng.integers(0, 3, 6).astype(float),
            )
        else:
            cases[f"small_exact{index}"] = (rng.normal(0, 1, 6), rng.normal(1, 1, 6))
    for index in range(5):  # one size, large: one scipy call
        cases[f"large{index}"] = (rng.normal(1, 0.1, 1440), rng.normal(1 + index * 0.05, 0.1, 1440))
    cases["few"] = (rng.normal(1, 0.1, 3), rng.normal(1, 0.1, 100))
    return cases


@pytest.mark.parametrize("seed", range(10))
def test_the_vectorised_judgement_equals_one_metric_at_a_time_and_scipy(seed):
    cases = batch_cases(seed)
    directions = ["increase", "decrease", "either"]
    metrics = [metric(name, directions[i % 3]) for i, name in enumerate(cases)]
    analysis = judge(spec(metrics), cases, at=AT, baseline_version="3", canary_version="4")
    assert [r.name for r in analysis.metrics] == list(cases)
    for m, result in zip(metrics, analysis.metrics, strict=True):
        baseline, canary = cases[m.name]
        alone = judge_metric(m, baseline, canary, OPTIONS)
        assert result.as_dict() == alone.as_dict()
        assert_matches(result, m, baseline, canary)
    methods = {r.name: r.method for r in analysis.metrics}
    assert {methods[n] for n in cases if n.startswith("small_exact")} == {"exact"}
    assert {methods[n] for n in cases if n.startswith("small_ties")} == {"asymptotic"}


def test_the_score_is_rounded_half_up():
    assert score_of(2, 3) == 66.67 and score_of(1, 3) == 33.33
    assert score_of(1, 160) == 0.63 and score_of(3, 160) == 1.88  # 0.625, 1.875: not to even
    assert score_of(4, 4) == 100 and score_of(0, 5) == 0


def verdict_of(outcomes: list[str], critical: set[int] = frozenset(), **options):
    """The analysis of metrics that are High (fail), Pass or NoData, in that order."""
    rng = np.random.default_rng(1)
    metrics, values = [], {}
    for index, outcome in enumerate(outcomes):
        name = f"m{index}"
        metrics.append(metric(name, critical=index in critical))
        baseline = rng.lognormal(0, 0.2, 60)
        canary = {"High": baseline * 2, "Pass": rng.permutation(baseline), "NoData": baseline[:2]}[outcome]
        values[name] = (baseline, canary)
    return judge(spec(metrics, **options), values, at=AT, baseline_version="3", canary_version="4")


def test_the_verdict_follows_the_score_and_the_critical_metrics():
    assert (verdict_of(["Pass"] * 3 + ["High"]).score, verdict_of(["Pass"] * 3 + ["High"]).verdict) == (
        75,
        "pass",
    )
    marginal = verdict_of(["Pass", "Pass", "High", "High"])
    assert (marginal.score, marginal.verdict) == (50, "marginal")
    assert marginal.reason == "marginal: score 50 < 75 (2 of 4 metrics passed; m2 High, m3 High)"
    failed = verdict_of(["Pass", "High", "High"])
    assert (failed.score, failed.verdict) == (33.33, "fail")
    critical = verdict_of(["Pass"] * 9 + ["High"], critical={9})
    assert (critical.score, critical.verdict) == (90, "fail")
    assert critical.reason == "fail: critical metric m9 is High (score 90, 9 of 10 metrics passed)"
    strict = verdict_of(["Pass"] * 3 + ["High"], **{"pass": 80})
    assert strict.verdict == "marginal"


def test_no_data_is_left_out_of_the_score_and_nothing_judged_is_nodata():
    some = verdict_of(["Pass", "NoData", "High", "Pass"])
    assert (some.score, some.verdict) == (66.67, "marginal") and some.reason.endswith(
        "; 1 metric without data"
    )
    none = verdict_of(["NoData", "NoData"])
    assert (none.score, none.verdict) == (None, "nodata")
    assert none.reason == "nodata: no metric has 5 values in both groups; 2 metrics without data"
    shadow_only = CanarySpec(name="s", model="m", baseline="1", canary="2", shadow={})
    empty = judge(shadow_only, {}, at=AT, baseline_version="1", canary_version="2")
    assert (empty.verdict, empty.reason) == ("nodata", "nodata: the canary has no metrics to judge")


def test_metrics_that_failed_to_collect_are_no_data_and_shown():
    m = [metric("latency"), metric("errors")]
    rng = np.random.default_rng(2)
    values = {"latency": (rng.normal(1, 0.1, 60), rng.normal(1, 0.1, 60))}
    errors = {"errors": "gives 3 series for version=4: aggregate by (version)"}
    analysis = judge(spec(m), values, at=AT, baseline_version="3", canary_version="4", errors=errors)
    latency, failed = analysis.metrics
    assert latency.classification == "Pass"
    assert failed.classification == "NoData" and failed.passed is None
    assert (
        failed.sentence
        == "errors: not collected: gives 3 series for version=4: aggregate by (version) → NoData"
    )
    assert analysis.errors == errors and analysis.as_dict()["errors"] == errors
    assert analysis.verdict == "pass" and analysis.score == 100


def test_the_analysis_round_trips_through_json():
    import json

    from console.canary.judge import Analysis

    analysis = verdict_of(["Pass", "High", "NoData"])
    again = Analysis.from_dict(json.loads(json.dumps(analysis.as_dict(), allow_nan=False)))
    assert again.as_dict() == analysis.as_dict()


def test_the_effect_limits_are_inclusive():
    rng = np.random.default_rng(8)
    baseline = rng.lognormal(0, 0.2, 200)
    for factor in (1.5, 0.6):
        canary = rng.lognormal(0, 0.2, 200) * factor
        ratio = canary.mean() / baseline.mean()
        at_limit = metric(high=ratio) if factor > 1 else metric(low=ratio)
        past_limit = metric(high=ratio * (1 + 1e-9)) if factor > 1 else metric(low=ratio * (1 - 1e-9))
        assert judge_metric(at_limit, baseline, canary, OPTIONS).classification == (
            "High" if factor > 1 else "Low"
        )
        assert judge_metric(past_limit, baseline, canary, OPTIONS).classification == "Pass"
