"""The incident screen's CBPE lines: for the incident's model, each metric's latest estimate that
the `estimation` source stored (value, ±3σ band, alert against its thresholds), beside drift.

No line when no `estimation` source estimates the model; a loud line when its last run failed for
the model, or when it has stored no estimate recently.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from console.store import Store

ESTIMATES_CURRENT_FOR = timedelta(hours=6)  # as the Drift view: older estimates are not current


@dataclass(frozen=True)
class EstimateLine:
    text: str
    level: str  # "ok", "alert" (outside the thresholds), "failed" or "missing"


def incident_estimate_lines(
    store: Store, workspace: Any, model: str | None, now: datetime
) -> list[EstimateLine]:
    """The lines for `model` (the incident's alert's `model` label), in the metrics' order."""
    from console.drift.estimation_window import latest_estimates

    if not model or workspace is None:
        return []
    sources, lines = _sources_of(workspace, model)
    if not sources and not lines:
        return []
    for name, models in sources:
        failure = _failure(store, name, model, models)
        if failure:
            lines.append(EstimateLine(f"estimation of {model} failed (source {name}): {failure}", "failed"))
    estimates = latest_estimates(store, model, now - ESTIMATES_CURRENT_FOR)
    lines += [_metric_line(metric, numbers) for metric, numbers in estimates.items()]
    if not estimates and not lines:
        hours = ESTIMATES_CURRENT_FOR.total_seconds() / 3600
        lines.append(
            EstimateLine(
                f"no CBPE estimate of {model} stored in the last {hours:g}h (collect runs the source)",
                "missing",
            )
        )
    return lines


def _sources_of(workspace: Any, model: str) -> tuple[list[tuple[str, list[str]]], list[EstimateLine]]:
    """(name, its models) of each enabled `estimation` source that estimates `model`; a line for each
    source whose options cannot be read."""
    from console.drift.estimation_window import ESTIMATION_KIND, EstimationOptions

    found, broken = [], []
    for source in workspace.config.sources:
        if source.kind != ESTIMATION_KIND or not source.enabled:
            continue
        try:
            models = [spec.model for spec in EstimationOptions.model_validate(source.options).models]
        except ValueError as exc:
            first = str(exc).splitlines()[0]
            broken.append(EstimateLine(f"estimation source {source.name} unreadable: {first}", "failed"))
            continue
        if model in models:
            found.append((source.name, models))
    return found, broken


def _failure(store: Store, source: str, model: str, models: list[str]) -> str | None:
    """The source's last error where its last run failed for `model` (or for no model in particular)."""
    rows = store.query("SELECT healthy, last_error FROM collector_state WHERE name = ?", [source])[1]
    if not rows or rows[0][0] is not False:
        return None
    error = str(rows[0][1] or "failed")
    parts = [part.strip() for part in error.split("; ")]
    mine = [part for part in parts if f"{model}: " in part]
    if mine:
        return "; ".join(part[part.index(f"{model}: ") + len(model) + 2 :] for part in mine)
    return None if any(f"{other}: " in error for other in models) else error


def _metric_line(metric: str, numbers: dict[str, float]) -> EstimateLine:
    """`est. accuracy 0.812 [0.790–0.834]` and whether it is outside the thresholds, and which side."""
    text = f"est. {metric} {numbers['value']:.3f}"
    lower, upper = numbers.get("lower", math.nan), numbers.get("upper", math.nan)
    text += f" [{lower:.3f}–{upper:.3f}]" if _known(lower, upper) else " [band undefined]"
    low, high = numbers.get("lower_threshold", math.nan), numbers.get("upper_threshold", math.nan)
    if not numbers.get("alert"):
        within = f"within thresholds {low:.3f}–{high:.3f}" if _known(low, high) else "thresholds undefined"
        return EstimateLine(f"{text} · ok, {within}", "ok")
    if _known(low) and numbers["value"] < low:
        return EstimateLine(f"{text} · ALERT below the lower threshold {low:.3f}", "alert")
    if _known(high) and numbers["value"] > high:
        return EstimateLine(f"{text} · ALERT above the upper threshold {high:.3f}", "alert")
    return EstimateLine(f"{text} · ALERT outside the reference's mean ± 3 std", "alert")


def _known(*numbers: float) -> bool:
    return not any(math.isnan(n) for n in numbers)
