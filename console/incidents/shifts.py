"""Data shifts before an incident: the columns of its model whose recorded drift verdict was positive, and when."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from console.incidents.changes import CHANGE_LOOKBACK, DATA_DRIFT, Change

if TYPE_CHECKING:
    from console.store import Store

RUN_GAP = timedelta(minutes=15)  # positive drift verdicts further apart than this are two runs
PREDICTION = "prediction"  # the drift windows' name for the model's output column


def _number(value: float) -> str:
    return f"{value:.2f}" if abs(value) >= 0.01 or value == 0 else f"{value:.2g}"


@dataclass
class DataShift:
    """A column of the incident's model whose recorded drift verdict was positive, since when, how strongly."""

    model: str
    column: str
    test: str | None  # the test label of oncall_drift_score (None: no score recorded)
    score: float | None  # the score at the run's latest positive verdict
    threshold: float | None
    drift_when: str | None  # ">=", ">", "p<=" or "p<" (console.drift.stats.StatTest)
    since: datetime  # the run's first positive verdict
    last: datetime  # the run's latest positive verdict up to the panel's end
    ended: datetime | None = (
        None  # the first negative verdict after the run (or its last, if verdicts stopped)
    )

    def verdict(self) -> str:
        """The score against its threshold in the test's own terms, e.g. "wasserstein 0.84 ≥ 0.1"."""
        if self.score is None:
            return "drift detected"
        name = self.test or "score"
        if self.threshold is None or self.drift_when is None:
            return f"{name} {_number(self.score)}"
        if self.drift_when.startswith("p"):
            op = "≤" if self.drift_when == "p<=" else "<"
            return f"{name} p {_number(self.score)} {op} {self.threshold:g}"
        op = ">" if self.drift_when == ">" else "≥"
        return f"{name} {_number(self.score)} {op} {self.threshold:g}"

    @property
    def is_output(self) -> bool:
        """The model's own output moved: a symptom to show, not a cause to rank."""
        return self.column == PREDICTION

    def describe(self) -> str:
        when = f"since {self.since:%H:%M}" if self.ended is None else f"{self.since:%H:%M}–{self.ended:%H:%M}"
        what = "output drift" if self.is_output else "data drift"
        return f"{what}: {self.column} ({self.verdict()}) {when}"

    def as_change(self) -> Change:
        return Change(
            self.since,
            DATA_DRIFT,
            self.model,
            None,
            None,
            "drift",
            {"column": self.column, "verdict": self.verdict()},
        )


def _nearest_run(runs: list[dict[str, Any]], declared: datetime) -> dict[str, Any]:
    """The last run begun by the declaration, else the first after it."""
    before = [r for r in runs if r["since"] <= declared]
    return before[-1] if before else runs[0]


Verdict = tuple[datetime, float, str | None, float | None]  # ts, detected (0/1), test, score


def _runs(rows: list[Verdict]) -> list[dict[str, Any]]:
    """Runs of positive verdicts (oldest first); a negative verdict or a gap over RUN_GAP ends one."""
    runs: list[dict[str, Any]] = []
    current: dict[str, Any] | None = None
    for ts, value, test, score in rows:
        if value >= 1:
            if current is not None and ts - current["last"] > RUN_GAP:
                current["ended"] = current["last"]  # the source went quiet: the run ends at its last verdict
                current = None
            if current is None:
                current = {"since": ts, "ended": None}
                runs.append(current)
            current.update(last=ts, test=test, score=score)
        elif current is not None:
            current["ended"] = ts
            current = None
    return runs


def drift_shifts(
    store: Store,
    model: str,
    start: datetime,
    end: datetime,
    declared: datetime,
    *,
    lookback: timedelta = CHANGE_LOOKBACK,
    thresholds: dict[str, float] | None = None,
) -> list[DataShift]:
    """Columns of `model` with a positive drift verdict in [start, end], each with the run nearest `declared`."""
    shifts = []
    for column, samples in _drift_verdicts(store, model, start, end, lookback).items():
        runs = [r for r in _runs(samples) if r["last"] >= start]
        if not runs:
            continue
        run = _nearest_run(runs, declared)
        threshold, drift_when = _test_terms(run["test"], (thresholds or {}).get(column))
        shifts.append(
            DataShift(
                model,
                column,
                run["test"],
                run["score"],
                threshold,
                drift_when,
                run["since"],
                run["last"],
                run["ended"],
            )
        )
    return sorted(shifts, key=lambda d: (d.since, d.column))


def _drift_verdicts(
    store: Store, model: str, start: datetime, end: datetime, lookback: timedelta
) -> dict[str, list[Verdict]]:
    """Per column that drifted in [start, end]: its verdicts since `lookback` before, with the score beside each."""
    from console.drift.stats import DRIFT_DETECTED, DRIFT_SCORE

    rows = store.query(
        "WITH det AS (SELECT json_extract_string(s.labels, '$.column') AS col, x.ts, x.value "
        "  FROM samples x JOIN series s ON s.id = x.series_id WHERE s.name = ? "
        "  AND json_extract_string(s.labels, '$.model') = ? AND x.ts BETWEEN ? AND ?), "
        "hit AS (SELECT DISTINCT col FROM det WHERE value >= 1 AND ts BETWEEN ? AND ?), "
        "sc AS (SELECT json_extract_string(s.labels, '$.column') AS col, "
        "  json_extract_string(s.labels, '$.test') AS test, x.ts, x.value "
        "  FROM samples x JOIN series s ON s.id = x.series_id WHERE s.name = ? "
        "  AND json_extract_string(s.labels, '$.model') = ? AND x.ts BETWEEN ? AND ?) "
        "SELECT det.col, det.ts, det.value, any_value(sc.test), any_value(sc.value) "
        "FROM det JOIN hit ON hit.col = det.col "
        "LEFT JOIN sc ON sc.col = det.col AND sc.ts = det.ts "
        "GROUP BY det.col, det.ts, det.value ORDER BY det.col, det.ts",
        [DRIFT_DETECTED, model, start - lookback, end, start, end, DRIFT_SCORE, model, start - lookback, end],
    )[1]
    by_column: dict[str, list[Verdict]] = {}
    for column, ts, value, test, score in rows:
        by_column.setdefault(str(column), []).append(
            (ts, float(value), test, None if score is None else float(score))
        )
    return by_column


def _test_terms(test: str | None, override: float | None) -> tuple[float | None, str | None]:
    """The threshold (the window's override, else the test's) and direction of a recorded test's verdict."""
    from console.drift.stats import resolve_test

    if not test:
        return None, None
    try:
        stat = resolve_test(test)
    except ValueError:  # a test this version does not know: show the bare score
        return None, None
    return (stat.threshold if override is None else override), stat.drift_when


def window_thresholds(workspace: Any, model: str) -> dict[str, float]:
    """Per-column threshold overrides of the model's drift window in the workspace (none if it has none)."""
    if workspace is None:
        return {}
    from console.drift.windows import drift_windows

    for _, window in drift_windows(workspace):  # the workspace loader validated them
        if window.model == model:
            return dict(window.thresholds)
    return {}
