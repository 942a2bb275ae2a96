"""The rules' alerts as of a past (or future) time, from the stored history (nothing is written).

The engine's stored alert states hold for the clock only, so an answer "as of T" replays the
rules with the engine's state machine (`console.alerts.backtest`) over a stretch ending at T
that is long enough for every `for`, `keep_firing_for` and resolved alert's retention to have
played out, on each group's own interval and with T itself an evaluation.  An alert active
from the start of the stretch takes its `since` from the engine's stored alert when that one
has been active since before; failing that its rule's stretch doubles (up to MAX_LOOKBACK);
beyond that it may have been active longer (`clipped`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from console.alerts.backtest import LabelSetHistory, RuleHistory, backtest, with_recordings
from console.alerts.lifecycle import RESOLVED_RETENTION, Alert, Transition
from console.alerts.persistence import load_alerts
from console.config.promql import DEFAULT_WINDOWS, Windows

if TYPE_CHECKING:
    from console.rules.model import Rule
    from console.store import Store

_US = timedelta(microseconds=1)
MAX_LOOKBACK = timedelta(hours=6)  # how far back an active alert's start is looked for
ACTIVE = ("pending", "firing")


@dataclass
class AlertsAt:
    """The alerts at `at`, the transitions of the evaluation at `at`, and the replay's bounds."""

    at: datetime
    start: datetime  # the earliest evaluation replayed
    alerts: list[Alert] = field(default_factory=list)
    transitions: list[Transition] = field(default_factory=list)
    errors: dict[str, str] = field(default_factory=dict)  # rule key -> its failed evaluations
    evaluated: int = 0
    clipped_since: set[str] = field(default_factory=set)  # fingerprints active when replays began

    def clipped(self, alert: Alert) -> bool:
        """Whether the alert was already active when its replay began (it may be older)."""
        return alert.fingerprint in self.clipped_since


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
    """The alerting rules' alerts at `at` (meta-alerts about the console itself have no history).

    An alert active from its replay's start takes its `since` from the engine's stored alert
    when that one has been active since before (it has been active throughout); otherwise its
    rule is replayed again from twice as far back, up to MAX_LOOKBACK."""
    rules = [r for r in rules if r.source != "oncall"]
    stored = {a.fingerprint: a for a in load_alerts(store) if a.state in ACTIVE}
    span = lookback(rules)
    answer = AlertsAt(at, at - span)
    todo, histories = rules, {}
    while todo:
        start = at - span
        replayed = backtest(store, with_recordings(todo, rules), start, at, windows=windows).rules
        wanted = {r.key for r in todo}
        histories.update({h.rule.key: h for h in replayed if h.rule.key in wanted})
        answer.start = min(answer.start, start)
        clipped = _clipped([h for h in replayed if h.rule.key in wanted], start, stored)
        if span * 2 > MAX_LOOKBACK or not clipped:
            answer.clipped_since = {a.fingerprint for a in clipped}
            break
        todo, span = [r for r in rules if r.key in {a.rule for a in clipped}], span * 2
    for history in histories.values():
        _add(answer, history, at)
    return answer


def _clipped(histories: list[RuleHistory], start: datetime, stored: dict[str, Alert]) -> list[Alert]:
    """The alerts active from `start` on whose start the store does not tell (those it does
    are given it)."""
    clipped = []
    for alert in (a for h in histories for a in h.alerts if a.state in ACTIVE):
        if alert.active_since is None or alert.active_since > start:
            continue
        known = stored.get(alert.fingerprint)
        if known is None or not _covers(known, start):
            clipped.append(alert)
            continue
        alert.active_since = known.active_since  # active since then, so throughout the replay
        if known.fired_at is not None and known.fired_at <= start:
            alert.fired_at = known.fired_at
    return clipped


def _covers(known: Alert, start: datetime) -> bool:
    """Whether the stored alert was active from before `start` until at least `start`."""
    if known.active_since is None or known.last_eval is None:
        return False
    return known.active_since <= start <= known.last_eval


def _add(answer: AlertsAt, history: RuleHistory, at: datetime) -> None:
    """One rule's replay into the answer: its alerts, its failures, its transitions at `at`."""
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
