"""The drift tests by name: what each accepts and when its score means drift (Evidently 0.7).

Apart from `console.drift.stats` so that validating a workspace's drift options imports no numpy.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import NamedTuple

NUM = "num"
CAT = "cat"
KINDS = (NUM, CAT)


@dataclass(frozen=True)
class StatTest:
    """A drift test: its name, the column kinds it accepts, and when its score means drift."""

    name: str
    title: str
    kinds: tuple[str, ...]
    threshold: float
    drift_when: str  # "p<=", "p<" (p-values), ">=" or ">" (distances)

    @property
    def score_kind(self) -> str:
        """What the score is: "p_value" (low means drift) or "distance" (high means drift)."""
        return "p_value" if self.drift_when.startswith("p") else "distance"

    def drifted(self, score: float, threshold: float) -> bool:
        if self.drift_when == "p<=":
            return bool(score <= threshold)
        if self.drift_when == "p<":
            return bool(score < threshold)
        if self.drift_when == ">":
            return bool(score > threshold)
        return bool(score >= threshold)


TESTS: dict[str, StatTest] = {
    t.name: t
    for t in (
        StatTest("ks", "K-S p_value", (NUM,), 0.05, "p<="),
        StatTest("chisquare", "chi-square p_value", (CAT, NUM), 0.05, "p<"),
        StatTest("z", "Z-test p_value", (CAT, NUM), 0.05, "p<"),
        StatTest("wasserstein", "Wasserstein distance (normed)", (NUM,), 0.1, ">="),
        StatTest("jensenshannon", "Jensen-Shannon distance", (CAT, NUM), 0.1, ">="),
        StatTest("psi", "PSI", (CAT, NUM), 0.1, ">="),
        StatTest("kl_div", "Kullback-Leibler divergence", (CAT, NUM), 0.1, ">="),
        StatTest("hellinger", "Hellinger distance", (CAT, NUM), 0.1, ">="),
        StatTest("anderson", "Anderson-Darling", (NUM,), 0.1, "p<"),
        StatTest("cramer_von_mises", "Cramer-von Mises", (NUM,), 0.1, "p<="),
        StatTest("t_test", "t_test", (NUM,), 0.05, "p<"),
        StatTest("mannw", "Mann-Whitney U-rank test", (NUM,), 0.05, "p<"),
        StatTest("ed", "Energy-distance", (NUM,), 0.1, ">"),
        StatTest("es", "Epps-Singleton", (NUM,), 0.05, "p<"),
        StatTest("empirical_mmd", "empirical_mmd", (NUM,), 0.1, "p<"),
        StatTest("fisher_exact", "Fisher's Exact test", (CAT,), 0.1, "p<"),
        StatTest("g_test", "g_test", (CAT,), 0.1, "p<"),
        StatTest("TVD", "Total-Variation-Distance", (CAT,), 0.1, "p<"),
    )
}
ALIASES = {
    "chi2": "chisquare",
    "chi-square": "chisquare",
    "js": "jensenshannon",
    "kl": "kl_div",
    "wasserstein_norm": "wasserstein",
    "anderson_darling": "anderson",
    "cvm": "cramer_von_mises",
    "ttest": "t_test",
    "mann_whitney": "mannw",
    "mannwhitneyu": "mannw",
    "energy_distance": "ed",
    "epps_singleton": "es",
    "mmd": "empirical_mmd",
    "fisher": "fisher_exact",
    "g": "g_test",
    "tvd": "TVD",
    "total_variation": "TVD",
}
_BY_LOWER = {name.lower(): name for name in TESTS}


class DriftError(ValueError):
    """A request that cannot be run: an unknown test, or a test that does not fit the column."""


class Scored(NamedTuple):
    """A test's score and, when there is one, a note saying what the number does not show."""

    score: float
    note: str | None = None


class Untestable(ValueError):
    """The chosen test cannot score these samples (too few values, no spread, not binary): the reason."""


def resolve_test(name: str) -> StatTest:
    """The test called `name` (Evidently's names, plus a few aliases), or a DriftError listing them."""
    lower = name.lower()
    key = ALIASES.get(lower) or _BY_LOWER.get(lower)
    if key is None:
        raise DriftError(f"unknown drift test {name!r}; choose one of {', '.join(TESTS)}")
    return TESTS[key]
