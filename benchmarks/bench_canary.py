"""Canary judgement: 50 metrics × 2 groups × 7 days at 1m (10,080 values each), one judgement.

Times the judge (console.canary.judge.judge) on arrays generated in this process — no store and
no collection (collecting from the store or Prometheus is timed with the run, not here) — next
to the same tests written as a user would: a pandas DataFrame per metric (ts, version, value),
a groupby on version, one scipy mannwhitneyu call per metric, the ratio of means and the rule.
Checks both give the same U, p and classification, and prints both times and the ratio.
    .venv/bin/python benchmarks/bench_canary.py [--metrics N] [--days D] [--repeat R]
"""

from __future__ import annotations

import argparse
import time
from datetime import datetime

import numpy as np
import pandas as pd
from scipy.stats import mannwhitneyu

from console.canary.judge import judge
from console.canary.model import CanarySpec, MetricSpec

AT = datetime(2026, 12, 3, 12)


def make_values(metrics: int, values: int, seed: int = 7) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """Per metric (baseline, canary): latency-like lognormal values; every fifth metric regresses by
    15%, every seventh improves by 15%; every tenth has gaps (NaN: intervals without a value), so
    its groups' sizes differ from the others'."""
    rng = np.random.default_rng(seed)
    out = {}
    for index in range(metrics):
        factor = 1.15 if index % 5 == 0 else 0.85 if index % 7 == 0 else 1.0
        baseline = rng.lognormal(0.0, 0.25, values)
        canary = rng.lognormal(0.0, 0.25, values) * factor
        if index % 10 == 3:
            baseline[rng.random(values) < 0.001] = np.nan
            canary[rng.random(values) < 0.001] = np.nan
        out[f"metric_{index:02d}"] = (baseline, canary)
    return out


def make_spec(names: list[str]) -> CanarySpec:
    metrics = [MetricSpec(name=name, query=f"sum by (version) (rate({name}_total[5m]))") for name in names]
    return CanarySpec(name="bench", model="m", baseline="1", canary="2", metrics=metrics)


def make_frames(values: dict[str, tuple[np.ndarray, np.ndarray]]) -> dict[str, pd.DataFrame]:
    """What a user holds: one long frame per metric, both versions' rows, 1-minute timestamps."""
    frames = {}
    for name, (baseline, canary) in values.items():
        ts = pd.date_range(end=AT, periods=baseline.size, freq="1min")
        frames[name] = pd.DataFrame(
            {
                "ts": np.concatenate([ts, ts]),
                "version": ["1"] * baseline.size + ["2"] * canary.size,
                "value": np.concatenate([baseline, canary]),
            }
        )
    return frames


def baseline_judge(frames: dict[str, pd.DataFrame]) -> dict[str, tuple[float, float, str]]:
    """The same test and rule, one scipy call per metric on pandas (alpha 0.05, limits 1.1 / 0.9)."""
    out = {}
    for name, frame in frames.items():
        groups = {version: g["value"].dropna().to_numpy() for version, g in frame.groupby("version")}
        b, c = groups["1"], groups["2"]
        res = mannwhitneyu(c, b, alternative="two-sided", method="auto")
        ratio = c.mean() / b.mean()
        higher = res.statistic > b.size * c.size / 2
        lower = res.statistic < b.size * c.size / 2
        if res.pvalue < 0.05 and higher and ratio >= 1.1:
            classification = "High"
        elif res.pvalue < 0.05 and lower and ratio <= 0.9:
            classification = "Low"
        else:
            classification = "Pass"
        out[name] = (float(res.statistic), float(res.pvalue), classification)
    return out


def scipy_batched(values: dict[str, tuple[np.ndarray, np.ndarray]]) -> dict[str, tuple[float, float]]:
    """For reference: scipy's mannwhitneyu on the same arrays, one 2-D call per group size."""
    by_size: dict[tuple[int, int], list[tuple[str, np.ndarray, np.ndarray]]] = {}
    for name, (baseline, canary) in values.items():
        b, c = baseline[~np.isnan(baseline)], canary[~np.isnan(canary)]
        by_size.setdefault((b.size, c.size), []).append((name, b, c))
    out = {}
    for members in by_size.values():
        res = mannwhitneyu(
            np.stack([c for _, _, c in members]), np.stack([b for _, b, _ in members]), axis=1, method="auto"
        )
        for position, (name, _, _) in enumerate(members):
            out[name] = (float(res.statistic[position]), float(res.pvalue[position]))
    return out


def best_of(repeat: int, run) -> tuple[float, object]:
    times, result = [], None
    for _ in range(repeat):
        started = time.perf_counter()
        result = run()
        times.append(time.perf_counter() - started)
    return min(times), result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--metrics", type=int, default=50)
    parser.add_argument("--days", type=float, default=7)
    parser.add_argument("--repeat", type=int, default=5, help="best of this many runs each")
    args = parser.parse_args()
    per_group = int(args.days * 1440)
    values = make_values(args.metrics, per_group)
    spec = make_spec(list(values))
    frames = make_frames(values)
    judge(spec, values, at=AT, baseline_version="1", canary_version="2")  # imports and warm-up
    baseline_judge(frames)

    ours, analysis = best_of(
        args.repeat, lambda: judge(spec, values, at=AT, baseline_version="1", canary_version="2")
    )
    theirs, expected = best_of(args.repeat, lambda: baseline_judge(frames))
    batched, _ = best_of(args.repeat, lambda: scipy_batched(values))
    for result in analysis.metrics:  # type: ignore[attr-defined]
        u, p, classification = expected[result.name]  # type: ignore[index]
        assert abs(result.u - u) <= 1e-9 and abs(result.p - p) <= 1e-9, result.name
        assert result.classification == classification, (result.name, result.classification, classification)

    counts = pd.Series([r.classification for r in analysis.metrics]).value_counts().to_dict()  # type: ignore[attr-defined]
    print(
        f"canary judge: {args.metrics} metrics x 2 groups x {args.days:g} days at 1m "
        f"({per_group:,} values a group), one judgement"
    )
    print("  arrays generated in-process; no store, no collection (timed with `oncall canary run`)")
    print(f"  verdict {analysis.verdict} score {analysis.score}; {counts}; U, p, classes equal")  # type: ignore[attr-defined]
    print(f"  ours (judge: sorted groups, merged ranks)       {ours * 1000:8.1f} ms   best of {args.repeat}")
    print(
        f"  baseline (pandas groupby + scipy per metric)    {theirs * 1000:8.1f} ms   best of {args.repeat}"
    )
    print(f"  ratio baseline/ours                             {theirs / ours:8.1f}x")
    print(
        f"  for reference: scipy 2-D calls by group size    {batched * 1000:8.1f} ms   (tests only, no rule)"
    )


if __name__ == "__main__":
    main()
