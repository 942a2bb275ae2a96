"""The alert engine: evaluates rules on their intervals, steps their alerts, keeps them in the store.

The state machine is console/alerts/lifecycle.py, the rows console/alerts/persistence.py.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from console.alerts.lifecycle import (
    NO_CONTEXT,
    OUTAGE_TOLERANCE,
    Alert,
    TemplateContext,
    Transition,
    resolve_orphans,
    step,
)
from console.alerts.muting import apply_silences
from console.alerts.persistence import load_alerts, load_rule_states, save
from console.alerts.silences import load_silences
from console.config.promql import DEFAULT_WINDOWS, Windows
from console.core.secrets import redact
from console.rules.evaluation import RuleResult
from console.rules.matchers import DEFAULT_INHIBIT_RULES, InhibitRule
from console.rules.model import Rule
from console.rules.promql_cycle import template_query
from console.rules.recording import evaluate_cycle

if TYPE_CHECKING:
    from console.store import Store


@dataclass
class CycleReport:
    """What one evaluation cycle did."""

    now: datetime
    evaluated: int = 0
    broken: dict[str, str] = field(default_factory=dict)
    warnings: dict[str, list[str]] = field(default_factory=dict)
    transitions: list[Transition] = field(default_factory=list)
    alerts: list[Alert] = field(default_factory=list)
    seconds: float = 0.0
    notify_error: str | None = None
    stale: dict[str, str] = field(default_factory=dict)  # rules not evaluated: why their alerts stay
    recorded: dict[str, int] = field(default_factory=dict)  # recording rule -> samples written


class AlertEngine:
    """Evaluates rules on their group intervals and keeps their alerts in the store."""

    def __init__(
        self,
        store: Store,
        rules: list[Rule],
        inhibit_rules: list[InhibitRule] | None = None,
        *,
        outage_tolerance: timedelta = OUTAGE_TOLERANCE,
        notifier: Any = None,
        batched: bool = True,
        orphans: Callable[[str, str | None], str | None] | None = None,
        windows: Windows = DEFAULT_WINDOWS,
        external_labels: dict[str, str] | None = None,
    ) -> None:
        """`orphans(rule_key, file)` decides for alerts whose rule is not among `rules`:
        the reason to resolve them ("rule removed from FILE"), or None to keep their state
        (marked stale) because their file failed to load.  By default they resolve."""
        self.store = store
        self.rules = rules
        self.orphans = orphans or _removed
        self.default_inhibit = list(DEFAULT_INHIBIT_RULES)
        self.inhibit_rules = self.default_inhibit + list(inhibit_rules or [])
        self.tolerance = outage_tolerance
        self.notifier = notifier
        self.batched = batched
        self.windows = windows  # the workspace's `promql.windows`
        self.external_labels = dict(external_labels or {})  # the templates' `$externalLabels`

    def due(self, now: datetime, states: dict[str, dict[str, Any]] | None = None) -> list[Rule]:
        """Rules whose group interval has passed since their last evaluation."""
        states = load_rule_states(self.store) if states is None else states
        return [
            r
            for r in self.rules
            if states.get(r.key, {}).get("last_eval") is None
            or now - states[r.key]["last_eval"] >= r.interval
        ]

    def run(self, now: datetime, *, only_due: bool = False) -> CycleReport:
        """One cycle at `now`: evaluate, step every alert, apply silences, save, notify."""
        started = time.perf_counter()
        report = CycleReport(now)
        states = load_rule_states(self.store)
        todo = self.due(now, states) if only_due else list(self.rules)
        cycle = evaluate_cycle(self.store, todo, now, batched=self.batched, windows=self.windows)
        results, report.recorded = cycle.results, cycle.recorded
        previous: dict[str, list[Alert]] = {}
        for alert in load_alerts(self.store):
            previous.setdefault(alert.rule, []).append(alert)
        elapsed_ms = (time.perf_counter() - started) * 1000 / max(len(todo), 1)
        alerts: list[Alert] = []
        rule_states: list[dict[str, Any]] = []
        context = TemplateContext(self.external_labels, template_query(self.store, now, self.windows))
        for result in results:
            alerts += self._step(result, previous.pop(result.rule.key, []), now, report, context)
            warnings = report.warnings.get(result.rule.key, [])
            rule_states.append(_rule_state(result, now, warnings, elapsed_ms))
        alerts += self._not_evaluated(previous, states, now, report)
        external = load_alerts(self.store, external=True)
        apply_silences(alerts, external, load_silences(self.store, now), self.inhibit_rules, now)
        save(self.store, alerts, report.transitions, rule_states)
        report.evaluated, report.alerts = len(todo), alerts
        self._notify(alerts, now, report)
        report.seconds = time.perf_counter() - started
        return report

    def _step(
        self,
        result: RuleResult,
        previous: list[Alert],
        now: datetime,
        report: CycleReport,
        context: TemplateContext = NO_CONTEXT,
    ) -> list[Alert]:
        """One rule's alerts after its evaluation; a failing rule's keep their state, marked stale."""
        rule = result.rule
        if rule.record is not None:  # a recording rule has no alerts; its samples are written
            if result.error:
                report.broken[rule.key] = result.error
            return previous
        alerts, transitions, warnings = step(
            rule, result, previous, now, tolerance=self.tolerance, context=context
        )
        report.transitions += transitions
        if result.error:
            report.broken[rule.key] = result.error
            for alert in alerts:
                alert.stale = f"rule {rule.key} fails: {result.error}"
        if warnings:
            report.warnings[rule.key] = warnings
        return alerts

    def _not_evaluated(
        self,
        previous: dict[str, list[Alert]],
        states: dict[str, dict[str, Any]],
        now: datetime,
        report: CycleReport,
    ) -> list[Alert]:
        """Alerts of rules not evaluated this cycle: unchanged when not due, else orphaned."""
        known = {r.key for r in self.rules}
        alerts: list[Alert] = []
        for key, rest in previous.items():
            if key in known:
                alerts += rest
            else:
                alerts += self._orphaned(key, rest, states.get(key, {}).get("file"), now, report)
        return alerts

    def _orphaned(
        self, key: str, alerts: list[Alert], file: str | None, now: datetime, report: CycleReport
    ) -> list[Alert]:
        """A removed rule's alerts resolve; those of a rule whose file fails to load keep their state."""
        reason = self.orphans(key, file)
        if reason is None:
            why = f"{file or 'its rule file'} does not load; state kept from {alerts[0].last_eval}"
            report.stale[key] = why
            return [replace(a, stale=why) for a in alerts]
        kept, transitions = resolve_orphans(alerts, now, reason)
        report.transitions += transitions
        return kept

    def _notify(self, alerts: list[Alert], now: datetime, report: CycleReport) -> None:
        if self.notifier is None:
            return
        try:
            self.notifier.push([a for a in alerts if a.state in ("firing", "resolved")], now)
        except Exception as exc:  # noqa: BLE001 - paging is the team's stack; a failure must not stop us
            report.notify_error = redact(str(exc))


def _rule_state(result: RuleResult, now: datetime, warnings: list[str], elapsed_ms: float) -> dict[str, Any]:
    """A rule_state row: its health after this evaluation."""
    rule = result.rule
    return {
        "rule": rule.key,
        "source": rule.source,
        "group": rule.group,
        "last_eval": now,
        "health": "error" if result.error else "ok",
        "error": result.error or ("; ".join(warnings) or None),
        "instances": len(result.instances),
        "duration_ms": elapsed_ms,
        "file": rule.file,
    }


def _removed(key: str, file: str | None) -> str:
    """The default for an orphaned rule's alerts: they resolve, saying where the rule was."""
    return f"rule removed from {file}" if file else "rule removed"
