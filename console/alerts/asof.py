"""The rules' alerts as of a past (or future) time, from the stored history (nothing is written).

The engine's stored alert states hold for the clock only, so an answer "as of T" replays the
rules with the engine's state machine (`console.alerts.backtest`) over a stretch ending at T
that is long enough for every `for`, `keep_firing_for` and resolved alert's retention to have
played out, on each group's own interval and with T itself an evaluation.  While an alert is
active from the start of the stretch, the stretch doubles (up to MAX_LOOKBACK), so that its
`since` is when it began; beyond that it may have been active longer (`clipped`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from console.alerts.backtest import LabelSetHistory, backtest
from console.alerts.lifecycle import RESOLVED_RETENTION, Alert, Transition
from console.config.promql import DEFAULT_WINDOWS, Windows

if TYPE_CHECKING:
    from console.rules.model import Rule
    from console.store import Store

_US = timedelta(microseconds=1)
MAX_LOOKBACK = timedelta(days=1)  # how far back an active alert's start is looked for


@dataclass
class AlertsAt:
    """The alerts at `at`, the transitions of the evaluation at `at`, and the replay's bounds."""

    at: datetime
    start: datetime
    alerts: list[Alert] = field(default_factory=list)
    transitions: list[Transition] = field(default_factory=list)
    errors: dict[str, str] = field(default_factory=dict)  # rule key -> its failed evaluations
    evaluated: int = 0

    def clipped(self, alert: Alert) -> bool:
        """Whether the alert was already active when the replay began (it may be older)."""
        return alert.active_since is not None and alert.active_since <= self.start


def lookback(rules: list[Rule]) -> timedelta:
    """How far before T the replay starts: every rule's for + keep_firing_for, the resolved
    retention and one interval, on a grid where T is an evaluation of every rule."""
    if not rules:
        return timedelta(0)
    needed = max(r.for_ + r.keep_firing_for for r in rules) + RESOLVED_RETENTION
    needed += max(r.interval for r in rules)
    grid = 1
    for rule in rules:
        grid = math.lcm(grid, max(1, rule.interval // _US))
    steps = -(-(needed // _US) // grid)  # ceiling
    return steps * grid * _US


def alerts_at(
    store: Store, rules: list[Rule], at: datetime, *, windows: Windows = DEFAULT_WINDOWS
) -> AlertsAt:
    """The alerting rules' alerts at `at` (meta-alerts about the console itself have no history)."""
    rules = [r for r in rules if r.source != "oncall"]
    span = lookback(rules)
    while True:  # longer while an alert was active from the replay's start, up to MAX_LOOKBACK
        answer = AlertsAt(at, at - span)
        result = backtest(store, rules, answer.start, at, windows=windows)
        active = [a for h in result.rules for a in h.alerts if a.state in ("pending", "firing")]
        if span * 2 > MAX_LOOKBACK or not any(answer.clipped(a) for a in active):
            break
        span *= 2
    for history in result.rules:
        answer.alerts += history.alerts
        answer.evaluated += 1
        if history.first_error is not None:
            first_at, error = history.first_error
            answer.errors[history.rule.key] = (
                f"{history.errors} of {history.evaluations} evaluation(s) failed, "
                f"first at {first_at:%Y-%m-%d %H:%M:%S}: {error}"
            )
        for label_set in history.label_sets.values():
            answer.transitions += _transitions_at(history.rule.key, label_set, at)
    return answer


def _transitions_at(rule: str, label_set: LabelSetHistory, at: datetime) -> list[Transition]:
    """The label set's transition at `at`, read back from its intervals (none if it stayed)."""
    ended = [i for i in label_set.intervals if i.end == at]
    began = [i for i in label_set.intervals if i.start == at]
    if not ended and not began:
        return []
    from_state = ended[-1].state if ended else "inactive"
    to_state = began[-1].state if began else "inactive"
    labels = dict(label_set.labels)
    return [Transition(label_set.fingerprint, at, from_state, to_state, None, rule, None, labels)]
