"""The alert state machine with Prometheus's semantics.

inactive → pending (while true for less than `for`) → firing; a firing alert whose
condition stops holding stays firing for `keep_firing_for`, then is resolved and kept
15 minutes.  One alert per rule and distinct label set (the fingerprint).  Pending and
firing alerts keep their active-since across restarts; after an outage longer than the
tolerance (default 1h) pending timers restart, as Prometheus's `for-outage-tolerance`.
"""

from __future__ import annotations

import functools
import hashlib
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta

import jinja2
from jinja2.sandbox import SandboxedEnvironment

from console.rules.evaluation import Instance, RuleResult
from console.rules.gotemplate import QueryFunc, expand
from console.rules.model import JinjaTemplate, Rule
from console.store.ingest import canonical_labels

RESOLVED_RETENTION = timedelta(minutes=15)
OUTAGE_TOLERANCE = timedelta(hours=1)

_env = SandboxedEnvironment(undefined=jinja2.ChainableUndefined, autoescape=False)


@dataclass
class Alert:
    """One alert instance: a rule and a distinct label set, with where it is in its life."""

    fingerprint: str
    rule: str
    name: str
    labels: dict[str, str]
    state: str
    source: str = "rule"
    annotations: dict[str, str] = field(default_factory=dict)
    active_since: datetime | None = None
    fired_at: datetime | None = None
    resolved_at: datetime | None = None
    last_eval: datetime | None = None
    keep_until: datetime | None = None
    value: float | None = None
    silenced_by: list[str] = field(default_factory=list)
    inhibited_by: list[str] = field(default_factory=list)
    stale: str | None = None  # why this alert's rule is not being evaluated (it keeps its state)


@dataclass
class Transition:
    """An alert moving from one state to another (a row of alert_history)."""

    fingerprint: str
    ts: datetime
    from_state: str
    to_state: str
    value: float | None
    rule: str = ""
    reason: str | None = None  # why, when it is not the rule's condition (e.g. "rule removed from F")
    labels: dict[str, str] = field(default_factory=dict)  # the alert's, also once it is gone


def fingerprint(rule_key: str, labels: dict[str, str]) -> str:
    """A stable id for a rule's alert with this label set; an empty label counts as absent
    (`canonical_labels`), so `{a="1",b=""}` is the alert `{a="1"}`."""
    return hashlib.sha256(f"{rule_key}\0{canonical_labels(labels)}".encode()).hexdigest()[:16]


@dataclass(frozen=True)
class TemplateContext:
    """What a rule's templates see besides the sample: `$externalLabels` and `query`."""

    external_labels: dict[str, str] = field(default_factory=dict)
    query: QueryFunc | None = None


NO_CONTEXT = TemplateContext()


@functools.lru_cache(maxsize=4096)
def _compiled(template: str) -> jinja2.Template:
    return _env.from_string(template)


def render(
    template: str,
    labels: dict[str, str],
    value: float | None,
    now: datetime,
    *,
    external_labels: dict[str, str] | None = None,
    query: QueryFunc | None = None,
) -> str:
    """Expand one label or annotation template, sandboxed; errors become the text.

    Go's text/template as Prometheus does (console/rules/gotemplate.py), unless the rule's
    file declared `templates: jinja` (its texts are then `JinjaTemplate`s)."""
    if "{" not in template:
        return template
    if not isinstance(template, JinjaTemplate):
        return expand(template, labels, value, external_labels=external_labels, query=query, now=now)
    try:
        return _compiled(str(template)).render(labels=labels, value=value, now=now)
    except Exception as exc:  # noqa: BLE001 - untrusted label values must never break an evaluation
        return f"<error expanding template: {exc}>"


def _labels(
    rule: Rule, instance: Instance, now: datetime, context: TemplateContext = NO_CONTEXT
) -> dict[str, str]:
    """An instance's labels with the rule's (templated) labels and its alertname.

    As in Prometheus, an alert has no `__name__`, and an empty label is no label: a rule label
    that renders empty removes that label (the instance's own one too), and an instance's
    empty label is dropped."""
    labels = {k: v for k, v in instance.labels.items() if v != "" and k != "__name__"}
    for key, template in rule.labels.items():
        text = _render(template, instance, now, context)
        if text == "":
            labels.pop(key, None)
        else:
            labels[key] = text
    labels["alertname"] = rule.name
    return labels


def _render(template: str, instance: Instance, now: datetime, context: TemplateContext) -> str:
    """A template expanded for one sample: `$labels` are the expression's labels, as in Prometheus."""
    return render(
        template,
        instance.labels,
        instance.value,
        now,
        external_labels=context.external_labels,
        query=context.query,
    )


def _instances(
    rule: Rule, result: RuleResult, now: datetime, context: TemplateContext = NO_CONTEXT
) -> tuple[dict[str, tuple[dict[str, str], Instance]], int]:
    """The result's label sets by fingerprint (the first of each, with its sample), and how
    many repeated one."""
    current: dict[str, tuple[dict[str, str], Instance]] = {}
    duplicates = 0
    for instance in result.instances:
        labels = _labels(rule, instance, now, context)
        fp = fingerprint(rule.key, labels)
        if fp in current:
            duplicates += 1
            continue
        current[fp] = (labels, instance)
    return current, duplicates


@dataclass
class _Step:
    """One rule's evaluation at `now`, collecting the transitions it makes."""

    rule: Rule
    now: datetime
    tolerance: timedelta
    transitions: list[Transition] = field(default_factory=list)
    context: TemplateContext = NO_CONTEXT

    def move(self, alert: Alert, to_state: str) -> None:
        self.transitions.append(
            Transition(
                alert.fingerprint,
                self.now,
                alert.state,
                to_state,
                alert.value,
                self.rule.key,
                labels=alert.labels,
            )
        )
        alert.state = to_state

    def fire(self, alert: Alert) -> None:
        self.move(alert, "firing")
        alert.fired_at = self.now

    def start(self, previous: Alert | None, fp: str, labels: dict[str, str], value: float | None) -> Alert:
        """A new alert for a label set that was not active: pending, or firing with no `for`."""
        rule = self.rule
        state = previous.state if previous else "inactive"
        alert = Alert(
            fp, rule.key, rule.name, labels, state, source=rule.source, active_since=self.now, value=value
        )
        if rule.for_ <= timedelta(0):
            self.fire(alert)
        else:
            self.move(alert, "pending")
        return alert

    def _outage_passed(self, alert: Alert) -> bool:
        """A pending alert not evaluated for longer than the tolerance: its timer restarts."""
        return alert.last_eval is not None and self.now - alert.last_eval > self.tolerance

    def _pending_long_enough(self, alert: Alert) -> bool:
        return alert.active_since is not None and self.now - alert.active_since >= self.rule.for_

    def present(self, alert: Alert | None, fp: str, labels: dict[str, str], instance: Instance) -> Alert:
        """A label set the query returns: starts, stays, or turns from pending to firing."""
        value = instance.value
        if alert is None or alert.state in ("inactive", "resolved"):
            alert = self.start(alert, fp, labels, value)
        elif alert.state == "pending" and self._outage_passed(alert):
            alert.active_since = self.now
        alert.labels, alert.value, alert.keep_until, alert.last_eval = labels, value, None, self.now
        alert.source, alert.resolved_at, alert.stale = self.rule.source, None, None
        if alert.state == "pending" and self._pending_long_enough(alert):
            self.fire(alert)
        alert.annotations = {
            k: _render(t, instance, self.now, self.context) for k, t in self.rule.annotations.items()
        }
        return alert

    def _keeps_firing(self, alert: Alert) -> bool:
        """Whether a firing alert whose condition stopped is still within `keep_firing_for`."""
        if self.rule.keep_firing_for <= timedelta(0):
            return False
        if alert.keep_until is None:
            alert.keep_until = self.now + self.rule.keep_firing_for
        return self.now < alert.keep_until

    def absent(self, alerts: Iterable[Alert]) -> list[Alert]:
        """The alerts whose label set the query no longer returns: what is left of them."""
        left = [self._gone(alert) for alert in alerts]
        return [a for a in left if a is not None]

    def _gone(self, alert: Alert) -> Alert | None:
        alert.stale = None
        if alert.state == "pending":
            self.move(alert, "inactive")
            return None
        if alert.state == "firing":
            if self._keeps_firing(alert):
                alert.last_eval = self.now
                return alert
            self.move(alert, "resolved")
            alert.resolved_at, alert.keep_until, alert.last_eval = self.now, None, self.now
        return None if _expired(alert, self.now) else alert


def step(
    rule: Rule,
    result: RuleResult,
    previous: Iterable[Alert],
    now: datetime,
    *,
    tolerance: timedelta = OUTAGE_TOLERANCE,
    context: TemplateContext = NO_CONTEXT,
) -> tuple[list[Alert], list[Transition], list[str]]:
    """One evaluation of one rule: (its alerts now, the transitions, warnings).  Pure but for
    what `context.query` reads."""
    prev = {a.fingerprint: replace(a) for a in previous}
    if result.error is not None:
        return [a for a in prev.values() if not _expired(a, now)], [], []
    current, duplicates = _instances(rule, result, now, context)
    run = _Step(rule, now, tolerance, context=context)
    alerts = [run.present(prev.pop(fp, None), fp, labels, inst) for fp, (labels, inst) in current.items()]
    alerts += run.absent(prev.values())
    return alerts, run.transitions, _duplicates_warning(duplicates)


def _duplicates_warning(duplicates: int) -> list[str]:
    if not duplicates:
        return []
    return [f"{duplicates} row(s) repeat a label set already returned; kept the first of each"]


def _expired(alert: Alert, now: datetime) -> bool:
    return alert.state in ("resolved", "inactive") and (
        alert.resolved_at is None or now - alert.resolved_at >= RESOLVED_RETENTION
    )


def resolve_orphans(
    alerts: Iterable[Alert], now: datetime, reason: str = "rule removed"
) -> tuple[list[Alert], list[Transition]]:
    """Alerts of rules that were deliberately removed: firing ones resolve, the rest go."""
    kept: list[Alert] = []
    transitions: list[Transition] = []
    for alert in alerts:
        alert = replace(alert, stale=None)
        if alert.state in ("firing", "pending"):
            to_state = "resolved" if alert.state == "firing" else "inactive"
            transitions.append(
                Transition(
                    alert.fingerprint,
                    now,
                    alert.state,
                    to_state,
                    alert.value,
                    alert.rule,
                    reason,
                    alert.labels,
                )
            )
            alert.state, alert.resolved_at, alert.keep_until = to_state, now, None
        if not _expired(alert, now):
            kept.append(alert)
    return kept, transitions
