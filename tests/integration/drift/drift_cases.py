"""The generated cases every drift differential test runs: ours and Evidently 0.7 on the same files."""

from __future__ import annotations

import numpy as np
import pandas as pd


def cases() -> dict[str, tuple[pd.DataFrame, pd.DataFrame, dict]]:
    rng = np.random.default_rng(20261126)
    cases = {}

    def add(name, reference, current, kinds, methods=None, thresholds=None, drift_share=0.5):
        cases[name] = (
            pd.DataFrame(reference),
            pd.DataFrame(current),
            {
                "kinds": kinds,
                "methods": methods or {},
                "thresholds": thresholds or {},
                "drift_share": drift_share,
            },
        )

    for rows in (999, 1000, 1001, 1002):
        add(
            f"boundary_{rows}",
            {
                "shifted": rng.normal(0, 1, rows),
                "same": rng.normal(5, 2, rows),
                "colour": rng.choice(["red", "green", "blue", "grey"], rows),
            },
            {
                "shifted": rng.normal(0.15, 1, 1500),
                "same": rng.normal(5, 2, 1500),
                "colour": rng.choice(["red", "green", "blue", "grey"], 1500, p=[0.3, 0.3, 0.2, 0.2]),
            },
            {"shifted": "num", "same": "num", "colour": "cat"},
        )
    # 1003 rows of which 5 are NaN or ±inf: 998 cleaned rows keep the small-sample tests.
    dirty = rng.normal(0, 1, 1003)
    dirty[[3, 50, 700]] = np.nan
    dirty[10], dirty[11] = np.inf, -np.inf
    current_dirty = rng.normal(0.1, 1, 1100)
    current_dirty[[0, 5]] = [np.inf, np.nan]
    add("nan_and_inf", {"x": dirty}, {"x": current_dirty}, {"x": "num"})
    for rows in (600, 4000):
        add(
            f"low_cardinality_{rows}",
            {
                "three": rng.integers(0, 3, rows).astype(float),
                "two": rng.integers(0, 2, rows).astype(float),
                "five": rng.integers(0, 5, rows).astype(float),
                "six": rng.integers(0, 6, rows).astype(float),
            },
            {
                "three": rng.choice([0.0, 1.0, 2.0], 700, p=[0.2, 0.3, 0.5]),
                "two": rng.choice([0.0, 1.0], 700, p=[0.45, 0.55]),
                "five": rng.integers(0, 5, 700).astype(float),
                "six": rng.integers(0, 6, 700).astype(float),
            },
            {"three": "num", "two": "num", "five": "num", "six": "num"},
        )
    for rows in (800, 3000):
        add(
            f"new_categories_{rows}",
            {
                "city": rng.choice(["berlin", "paris", "rome"], rows),
                "plan": rng.choice(["free", "pro"], rows),
                "tier": rng.choice(["a", "b", "c", "d"], rows),
            },
            {
                "city": rng.choice(["berlin", "paris", "rome", "oslo"], 900),
                "plan": rng.choice(["free", "pro"], 900, p=[0.6, 0.4]),
                "tier": rng.choice(["a", "b"], 900),
            },
            {"city": "cat", "plan": "cat", "tier": "cat"},
        )
    for rows in (500, 2500):
        add(
            f"constant_{rows}",
            {"flat": np.full(rows, 3.0), "flat_then_moves": np.full(rows, 1.0), "label": ["only"] * rows},
            {"flat": np.full(700, 3.0), "flat_then_moves": rng.normal(1, 1, 700), "label": ["only"] * 700},
            {"flat": "num", "flat_then_moves": "num", "label": "cat"},
        )
    add(
        "heavy_tails",
        {
            "cauchy": rng.standard_cauchy(5000),
            "pareto": rng.pareto(1.5, 5000),
            "lognormal": rng.lognormal(0, 2, 5000),
        },
        {
            "cauchy": rng.standard_cauchy(3777) * 1.05,
            "pareto": rng.pareto(1.3, 3777),
            "lognormal": rng.lognormal(0.1, 2, 3777),
        },
        {"cauchy": "num", "pareto": "num", "lognormal": "num"},
    )
    add(
        "methods_on_request",
        {
            "ks": rng.normal(0, 1, 4000),
            "psi": rng.normal(0, 1, 4000),
            "kl": rng.gamma(2, 1, 4000),
            "hellinger": rng.normal(0, 1, 4000),
            "js": rng.uniform(0, 1, 4000),
            "psi_few": rng.integers(0, 8, 4000).astype(float),
            "hel_few": rng.integers(0, 8, 4000).astype(float),
            "psi_cat": rng.choice(list("abcdef"), 4000),
            "kl_cat": rng.choice(list("abc"), 4000),
            "hel_cat": rng.choice(list("abcd"), 4000),
            "chi_cat": rng.choice(list("abcd"), 4000),
            "z_cat": rng.choice(["yes", "no"], 4000),
        },
        {
            "ks": rng.normal(0.05, 1, 2500),
            "psi": rng.normal(0.3, 1.2, 2500),
            "kl": rng.gamma(2.2, 1, 2500),
            "hellinger": rng.normal(0.5, 1, 2500),
            "js": rng.uniform(0.1, 1.3, 2500),
            "psi_few": rng.integers(0, 9, 2500).astype(float),
            "hel_few": rng.integers(1, 8, 2500).astype(float),
            "psi_cat": rng.choice(list("abcdeg"), 2500),
            "kl_cat": rng.choice(list("abcd"), 2500),
            "hel_cat": rng.choice(list("abce"), 2500),
            "chi_cat": rng.choice(list("abcd"), 2500),
            "z_cat": rng.choice(["yes", "no"], 2500, p=[0.52, 0.48]),
        },
        {
            "ks": "num",
            "psi": "num",
            "kl": "num",
            "hellinger": "num",
            "js": "num",
            "psi_few": "num",
            "hel_few": "num",
            "psi_cat": "cat",
            "kl_cat": "cat",
            "hel_cat": "cat",
            "chi_cat": "cat",
            "z_cat": "cat",
        },
        methods={
            "ks": "ks",
            "psi": "psi",
            "kl": "kl_div",
            "hellinger": "hellinger",
            "js": "jensenshannon",
            "psi_few": "psi",
            "hel_few": "hellinger",
            "psi_cat": "psi",
            "kl_cat": "kl_div",
            "hel_cat": "hellinger",
            "chi_cat": "chisquare",
            "z_cat": "z",
        },
        thresholds={"psi": 0.25, "ks": 0.01, "js": 0.2},
    )
    add(
        "unequal_sizes_and_share",
        {
            "a": rng.normal(0, 1, 3000),
            "b": rng.exponential(1, 3000),
            "c": rng.normal(0, 1, 3000),
            "d": rng.normal(0, 1, 3000),
        },
        {
            "a": rng.normal(0.5, 1, 1777),
            "b": rng.exponential(1, 1777),
            "c": rng.normal(0, 1.5, 1777),
            "d": rng.normal(0, 1, 1777),
        },
        {"a": "num", "b": "num", "c": "num", "d": "num"},
        drift_share=0.4,
    )
    all_missing = np.full(300, np.nan)
    add(
        "all_missing",
        {"gone": all_missing, "fine": rng.normal(0, 1, 300)},
        {"gone": rng.normal(0, 1, 300), "fine": rng.normal(0, 1, 300)},
        {"gone": "num", "fine": "num"},
    )
    return cases
