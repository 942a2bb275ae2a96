"""The drift tests by name: what each accepts and when its score means drift (Evidently 0.7).

Apart from `console.drift.stats` so that validating a workspace's drift options imports no numpy.
"""

from __future__ import annotations

from dataclasses import dataclass

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
    drift_when: str  # "p<=", "p<" (p-values) or ">=" (distances)

    def drifted(self, score: float, threshold: float) -> bool:
        if self.drift_when == "p<=":
            return bool(score <= threshold)
        if self.drift_when == "p<":
            return bool(score < threshold)
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
    )
}
ALIASES = {
    "chi2": "chisquare",
    "chi-square": "chisquare",
    "js": "jensenshannon",
    "kl": "kl_div",
    "wasserstein_norm": "wasserstein",
}


class DriftError(ValueError):
    """A request that cannot be run: an unknown test, or a test that does not fit the column."""


def resolve_test(name: str) -> StatTest:
    """The test called `name` (Evidently's names, plus a few aliases), or a DriftError listing them."""
    key = ALIASES.get(name.lower(), name.lower())
    if key not in TESTS:
        raise DriftError(f"unknown drift test {name!r}; choose one of {', '.join(TESTS)}")
    return TESTS[key]
