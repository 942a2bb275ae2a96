"""Headless data for the canary screens: an analysis in one line, the Canary view's page.

An analysis is `console.canary.judge.Analysis`; `latest` reads the newest of each canary back
from the store (`console.canary.stored`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from console.store import Store


def score_text(score: float | None) -> str:
    return "–" if score is None else f"{score:.2f}"


def analysis_line(analysis: Any, *, versions: bool = False) -> str:
    """ "canary fraud-v4: fail 33.33 (latency_p99 +40% (p=0.0003), increase is bad → High)": the
    failing metrics' sentences, else the verdict's reason; with `versions`, which versions were
    compared; metrics that failed to collect are named."""
    failing = [m.sentence for m in getattr(analysis, "metrics", []) if m.passed is False]
    why = "; ".join(failing) or analysis.reason
    line = f"canary {analysis.name}: {analysis.verdict} {score_text(analysis.score)} ({why})"
    if versions:
        line += f" v{analysis.canary_version} vs v{analysis.baseline_version}"
    errors = dict(getattr(analysis, "errors", None) or {})
    if errors:
        failed = "; ".join(f"{name}: {message}" for name, message in sorted(errors.items()))
        line += f"; {len(errors)} metric{'s' if len(errors) > 1 else ''} failed to collect: {failed}"
    return line


def latest(store: Store) -> dict[str, tuple[Any, dict[str, Any] | None]]:
    """Canary name -> (its newest analysis, the rollback that analysis planned or None)."""
    from console.canary.judge import Analysis
    from console.canary.stored import latest_analyses

    return {
        name: (Analysis.from_dict(stored.result), stored.rollback)
        for name, stored in latest_analyses(store).items()
    }


def incident_canary_lines(store: Store, model: str | None) -> list[str]:
    """The latest analysis of each canary of `model`, one line each (the incident screen's),
    with what its rollback came to."""
    if not model:
        return []
    lines = []
    for _, (analysis, rollback) in sorted(latest(store).items()):
        if analysis.model != model:
            continue
        line = analysis_line(analysis, versions=True)
        if rollback:
            line += f" · rollback {rollback.get('state')}: {rollback.get('message')}"
        lines.append(line)
    return lines


@dataclass
class CanaryEntry:
    """One canary spec with its latest analysis and both groups' values over its lookback."""

    spec: Any
    analysis: Any = None
    rollback: dict[str, Any] | None = None  # what the analysis's rollback came to
    failure: str | None = None  # the continuous judgement's last failure, if it failed
    skipped: str | None = None  # why its last turn judged nothing
    # metric name -> {"baseline": [(t, v)], "canary": [(t, v)]}, or the error reading it
    series: dict[str, dict[str, list[tuple[datetime, float | None]]]] = field(default_factory=dict)
    series_error: str | None = None


@dataclass
class CanaryPage:
    now: datetime
    entries: list[CanaryEntry] = field(default_factory=list)
    error: str | None = None


def load_canary_page(
    store: Store,
    specs: list[Any],
    now: datetime,
    failures: dict[str, Any] | None = None,
    skipped: dict[str, str] | None = None,
    *,
    windows: Any = None,
) -> CanaryPage:
    """Every canary spec in force with its latest analysis and both groups' series (headless)."""
    page = CanaryPage(now)
    try:
        found = latest(store)
    except Exception as exc:  # noqa: BLE001 - the view says why it has no analyses
        page.error = f"analyses unreadable: {type(exc).__name__}: {exc}"
        found = {}
    for spec in specs:
        failure = (failures or {}).get(spec.name)
        analysis, rollback = found.get(spec.name, (None, None))
        entry = CanaryEntry(spec, analysis, rollback, getattr(failure, "message", failure))
        entry.skipped = (skipped or {}).get(spec.name)
        if entry.analysis is not None:
            try:
                entry.series = group_series(store, spec, entry.analysis, entry.analysis.at, windows)
            except Exception as exc:  # noqa: BLE001 - the charts say why they are empty
                entry.series_error = f"{type(exc).__name__}: {exc}".splitlines()[0]
        page.entries.append(entry)
    return page


def group_series(
    store: Store, spec: Any, analysis: Any, at: datetime, windows: Any = None
) -> dict[str, dict[str, list[tuple[datetime, float | None]]]]:
    """Both groups' values of each metric over the lookback ending at `at`, as judged: each
    metric's query at step `interval`, its series split by the spec's label."""
    import math

    from console.canary.collect import answer as metric_answer
    from console.config.promql import DEFAULT_WINDOWS

    windows = windows or DEFAULT_WINDOWS
    start = at - spec.lookback
    out: dict[str, dict[str, list[tuple[datetime, float | None]]]] = {}
    cur = store.cursor()
    try:
        for metric in spec.metrics:
            groups: dict[str, list[tuple[datetime, float | None]]] = {"baseline": [], "canary": []}
            answer = metric_answer(cur, spec, metric, start, at, windows)
            for labels, values in answer.items():
                value = dict(labels).get(spec.label)
                group = {str(analysis.baseline_version): "baseline", str(analysis.canary_version): "canary"}
                if value in group:
                    groups[group[value]] += [
                        (_at(t), None if math.isnan(v) or math.isinf(v) else v) for t, v in values
                    ]
            out[metric.name] = groups
    finally:
        cur.close()
    return out


def _at(seconds: float) -> datetime:
    from datetime import UTC

    return datetime.fromtimestamp(seconds, UTC).replace(tzinfo=None)
