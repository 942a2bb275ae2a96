"""Replaying alerting rules over stored history with the live state machine (nothing is written).

Each rule is evaluated on its group's interval (or on one `step` for all) from `start` to
`end`, and its alerts are stepped by `console.alerts.lifecycle.step`, so `for`,
`keep_firing_for` and the resolved state behave as in the engine.  The answer is, per rule
and label set, the intervals it spent pending, firing and resolved.  Recording rules are
replayed too, in group order as in the engine (`console.rules.recording`), into a view of
the store that keeps what they record beside it (`console.rules.replay`).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from console.alerts.lifecycle import Alert, Transition, step
from console.config.promql import DEFAULT_WINDOWS, Windows
from console.rules.evaluation import RuleResult
from console.rules.model import Rule
from console.rules.recording import Sink, evaluate_cycle, reads
from console.rules.replay import ReplayStore

if TYPE_CHECKING:
    from console.store import Store

STATES = ("pending", "firing", "resolved")


@dataclass
class Interval:
    """A time a label set spent in one state; `end` None: still so at the end of the range."""

    state: str
    start: datetime
    end: datetime | None = None


@dataclass
class LabelSetHistory:
    """One alert (rule and label set) over the range."""

    fingerprint: str
    labels: dict[str, str]
    intervals: list[Interval] = field(default_factory=list)

    @property
    def fired(self) -> int:
        return sum(i.state == "firing" for i in self.intervals)

    def apply(self, transition: Transition) -> None:
        """Close the open interval at the transition; open one for its new state (not inactive)."""
        if self.intervals and self.intervals[-1].end is None:
            self.intervals[-1].end = transition.ts
        if transition.to_state in STATES:
            self.intervals.append(Interval(transition.to_state, transition.ts))
        labels = {k: transition.labels[k] for k in sorted(transition.labels) if k != "alertname"}
        self.labels = labels or self.labels


@dataclass
class RuleHistory:
    """One rule over the range: its label sets, and the evaluations that failed."""

    rule: Rule
    label_sets: dict[str, LabelSetHistory] = field(default_factory=dict)
    evaluations: int = 0
    errors: int = 0
    first_error: tuple[datetime, str] | None = None
    alerts: list[Alert] = field(default_factory=list)  # the state machine's, between evaluations
    samples: int = 0  # a recording rule's, recorded over the range

    def replay(self, evaluated: RuleResult, at: datetime, recorded: int = 0) -> None:
        """One evaluation at `at`: the state machine's step, its transitions into intervals."""
        self.evaluations += 1
        if evaluated.error is not None:
            self.errors += 1
            self.first_error = self.first_error or (at, evaluated.error)
        if self.rule.record is not None:
            self.samples += recorded
            return
        # no outage in a replay: a step longer than the outage tolerance restarts no timer
        self.alerts, transitions, _ = step(self.rule, evaluated, self.alerts, at, tolerance=timedelta.max)
        for transition in transitions:
            fp = transition.fingerprint
            self.label_sets.setdefault(fp, LabelSetHistory(fp, {})).apply(transition)


@dataclass
class Backtest:
    start: datetime
    end: datetime
    step: timedelta | None
    rules: list[RuleHistory] = field(default_factory=list)  # alerting rules
    recording: list[RuleHistory] = field(default_factory=list)


def _due(rule: Rule, at: datetime, start: datetime, step_size: timedelta | None) -> bool:
    if step_size is not None:
        return True
    return (at - start) % rule.interval == timedelta(0)


def _times(rules: list[Rule], start: datetime, end: datetime, step_size: timedelta | None) -> list[datetime]:
    """Every evaluation time in [start, end]: the step's grid, or the union of the intervals'."""
    steps = [step_size] if step_size is not None else sorted({r.interval for r in rules})
    times: set[datetime] = set()
    for size in steps:
        at = start
        while at <= end:
            times.add(at)
            at += size
    return sorted(times)


def with_recordings(chosen: list[Rule], rules: list[Rule]) -> list[Rule]:
    """`chosen` and the recording rules they read (and those read, in turn), in file order."""
    keys = {r.key for r in chosen}
    recordings = [r for r in rules if r.record]
    while extra := {r.key for r in recordings if r.key not in keys and _read_by(r, rules, keys)}:
        keys |= extra
    return [r for r in rules if r.key in keys]


def _read_by(recording: Rule, rules: list[Rule], keys: set[str]) -> bool:
    return any(reads(r, recording.record or "") for r in rules if r.key in keys)


def backtest(
    store: Store,
    rules: list[Rule],
    start: datetime,
    end: datetime,
    step_size: timedelta | None = None,
    *,
    windows: Windows = DEFAULT_WINDOWS,
) -> Backtest:
    """Replay `rules` from `start` to `end` (each on its own interval unless `step_size`)."""
    histories = {r.key: RuleHistory(r) for r in rules}
    result = Backtest(start, end, step_size)
    result.rules = [h for h in histories.values() if h.rule.record is None]
    result.recording = [h for h in histories.values() if h.rule.record is not None]
    metrics = sorted({h.rule.record for h in result.recording if h.rule.record})
    with _view(store, metrics, start) as (view, sink):
        for at in _times(rules, start, end, step_size):
            due = [r for r in rules if _due(r, at, start, step_size)]
            cycle = evaluate_cycle(view, due, at, sink=sink, windows=windows)
            for evaluated in cycle.results:
                histories[evaluated.rule.key].replay(evaluated, at, cycle.recorded.get(evaluated.rule.key, 0))
    return result


@contextmanager
def _view(store: Store, metrics: list[str], start: datetime) -> Iterator[tuple[Store, Sink | None]]:
    """The store as the replay reads it, and where its recordings go (none: no recording rule)."""
    if not metrics:
        yield store, None
        return
    replay = ReplayStore(store, metrics, start)
    try:
        yield replay, replay.write
    finally:
        replay.close()


def _error_json(history: RuleHistory) -> dict[str, Any] | None:
    if history.first_error is None:
        return None
    return {"at": history.first_error[0], "error": history.first_error[1]}


def _interval_json(interval: Interval) -> dict[str, Any]:
    return {"state": interval.state, "from": interval.start, "to": interval.end}


def as_json(result: Backtest) -> dict[str, Any]:
    """The backtest as plain data: per rule, per label set, its intervals."""
    return {
        "from": result.start,
        "to": result.end,
        "step_seconds": result.step.total_seconds() if result.step else None,
        "recording_rules": [
            {
                "rule": h.rule.key,
                "evaluations": h.evaluations,
                "failed_evaluations": h.errors,
                "first_error": _error_json(h),
                "samples": h.samples,
            }
            for h in result.recording
        ],
        "rules": [
            {
                "rule": h.rule.key,
                "for_seconds": h.rule.for_.total_seconds(),
                "keep_firing_for_seconds": h.rule.keep_firing_for.total_seconds(),
                "evaluations": h.evaluations,
                "failed_evaluations": h.errors,
                "first_error": _error_json(h),
                "fired": sum(s.fired for s in h.label_sets.values()),
                "label_sets": [
                    {
                        "labels": s.labels,
                        "fingerprint": s.fingerprint,
                        "fired": s.fired,
                        "intervals": [_interval_json(i) for i in s.intervals],
                    }
                    for s in h.label_sets.values()
                ],
            }
            for h in result.rules
        ],
    }


TABLE_COLUMNS = ["rule", "labels", "state", "from", "to", "lasted"]


def table_rows(result: Backtest) -> list[list[Any]]:
    """One row per interval (and one per rule that was never pending): for `render_table`."""
    rows: list[list[Any]] = []
    for h in result.rules:
        if not h.label_sets:
            never = "never pending" if h.errors < h.evaluations else "every evaluation failed"
            rows.append([h.rule.key, "", never, "", "", ""])
        for label_set in h.label_sets.values():
            labels = ",".join(f"{k}={v}" for k, v in sorted(label_set.labels.items()))
            for interval in label_set.intervals:
                end = interval.end or result.end
                rows.append(
                    [
                        h.rule.key,
                        "{" + labels + "}",
                        interval.state,
                        f"{interval.start:%Y-%m-%d %H:%M:%S}",
                        f"{interval.end:%Y-%m-%d %H:%M:%S}" if interval.end else "(still at the end)",
                        _duration(end - interval.start) + ("+" if interval.end is None else ""),
                    ]
                )
    return rows


def _duration(span: timedelta) -> str:
    seconds = int(span.total_seconds())
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    return (f"{hours}h" if hours else "") + (f"{minutes}m" if minutes else "") + (
        f"{secs}s" if secs else ""
    ) or "0s"
