"""`segments`: computes the workspace's segment checks on the stored prediction records and writes series.

Each run evaluates every check once per `step` of (simulated) time, at the step boundary, and writes
`oncall_segment_*{model,by,segment}` and `oncall_fairness_*{model,by}` (docs/segments.md), so rules
and SLOs read them like any metric.
"""

from __future__ import annotations

import math
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, ConfigDict, Field, field_validator

from collectors.base import CollectorOptions
from console.drift.config import Duration
from console.drift.step import StepCollector

if TYPE_CHECKING:
    from console.store import Store


class SegmentCheck(BaseModel):
    """One model's segments: the grouping columns, the window of records, the decision threshold."""

    model_config = ConfigDict(extra="forbid")

    model: str = Field(min_length=1)
    by: list[str] = Field(min_length=1, description="grouping columns: features, or version / origin")
    window: Duration = timedelta(days=1)
    threshold: float = 0.5
    missing: str | None = None  # the group of records without a value for a column; default: refuse them

    @field_validator("window")
    @classmethod
    def _window(cls, value: timedelta) -> timedelta:
        if value <= timedelta(0):
            raise ValueError("window must be a positive duration, e.g. 1d")
        return value

    @field_validator("threshold")
    @classmethod
    def _threshold(cls, value: float) -> float:
        if not math.isfinite(value):
            raise ValueError("threshold must be a finite number")
        return value


class SegmentsOptions(CollectorOptions):
    checks: list[SegmentCheck] = Field(min_length=1, description="one entry per model and grouping")
    step: Duration = Field(
        default=timedelta(minutes=5), description="evaluate at most once per this much time"
    )

    @field_validator("step")
    @classmethod
    def _step(cls, value: timedelta) -> timedelta:
        if value <= timedelta(0):
            raise ValueError("step must be a positive duration, e.g. 5m")
        return value


class SegmentsCollector(StepCollector):
    """Evaluates each check at every step boundary it has not evaluated yet (the latest one only).

    A check whose window has no labelled record writes nothing (its series go stale); one that
    cannot be computed (a non-binary label, a missing value) fails the run, the others still written."""

    kind = "segments"
    detail = "no_records"
    Options = SegmentsOptions
    options: SegmentsOptions

    def _evaluate(self, store: Store, at: datetime) -> tuple[list[Any], list[str], list[str]]:
        """Every check at `at`: the sample tables, the checks that failed (why), those with no record."""
        from console.drift.segments import NoRecords, SegmentError, by_text, evaluate_segments

        tables, failures, empty = [], [], []
        for check in self.options.checks:
            where = f"{check.model} by {by_text(check.by)}"
            try:
                report = evaluate_segments(
                    store,
                    check.model,
                    check.by,
                    at,
                    check.window,
                    threshold=check.threshold,
                    missing=check.missing,
                )
            except NoRecords:
                empty.append(where)
                continue
            except SegmentError as exc:
                failures.append(f"{where}: {exc}")
                continue
            tables.append(report.samples(at))
        return tables, failures, empty


def segment_checks(workspace: Any) -> list[tuple[str, SegmentCheck]]:
    """(source name, check) for every check of every `segments` source in the workspace."""
    found = []
    for source in workspace.config.sources:
        if source.kind == SegmentsCollector.kind:
            options = SegmentsOptions.model_validate(source.options)
            found += [(source.name, check) for check in options.checks]
    return found
