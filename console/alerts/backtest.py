"""Replaying alerting rules over stored history with the live state machine (nothing is written).

Each rule is evaluated on its group's interval (or on one `step` for all) from `start` to
`end`, and its alerts are stepped by `console.alerts.lifecycle.step`, so `for`,
`keep_firing_for` and the resolved state behave as in the engine.  The answer is, per rule
and label set, the intervals it spent pending, firing and resolved.  Recording rules are not
replayed (their history is what the engine recorded); the alerting rules read it as stored.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from console.alerts.lifecycle import Alert, Transition, step
from console.rules.evaluation import RuleResult, evaluate
from console.rules.model import Rule

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

    def replay(self, evaluated: RuleResult, at: datetime) -> None:
        """One evaluation at `at`: the state machine's step, its transitions into intervals."""
        self.evaluations += 1
        if evaluated.error is not None:
            self.errors += 1
            self.first_error = self.first_error or (at, evaluated.error)
        self.alerts, transitions, _ = step(self.rule, evaluated, self.alerts, at)
        for transition in transitions:
            fp = transition.fingerprint
            self.label_sets.setdefault(fp, LabelSetHistory(fp, {})).apply(transition)


@dataclass
class Backtest:
    start: datetime
    end: datetime
    step: timedelta | None
    rules: list[RuleHistory] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)  # recording rules, not replayed


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


def backtest(
    store: Store, rules: list[Rule], start: datetime, end: datetime, step_size: timedelta | None = None
) -> Backtest:
    """Replay `rules` from `start` to `end` (each on its own interval unless `step_size`)."""
    alerting = [r for r in rules if r.record is None]
    result = Backtest(start, end, step_size, skipped=[r.key for r in rules if r.record is not None])
    histories = {r.key: RuleHistory(r) for r in alerting}
    result.rules = list(histories.values())
    for at in _times(alerting, start, end, step_size):
        due = [r for r in alerting if _due(r, at, start, step_size)]
        for evaluated in evaluate(store, due, at):
            histories[evaluated.rule.key].replay(evaluated, at)
    return result


def _interval_json(interval: Interval) -> dict[str, Any]:
    return {"state": interval.state, "from": interval.start, "to": interval.end}


def as_json(result: Backtest) -> dict[str, Any]:
    """The backtest as plain data: per rule, per label set, its intervals."""
    return {
        "from": result.start,
        "to": result.end,
        "step_seconds": result.step.total_seconds() if result.step else None,
        "skipped_recording_rules": result.skipped,
        "rules": [
            {
                "rule": h.rule.key,
                "for_seconds": h.rule.for_.total_seconds(),
                "keep_firing_for_seconds": h.rule.keep_firing_for.total_seconds(),
                "evaluations": h.evaluations,
                "failed_evaluations": h.errors,
                "first_error": (
                    {"at": h.first_error[0], "error": h.first_error[1]} if h.first_error else None
                ),
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
