"""The alert state machine with Prometheus's semantics, and its state kept in the store.

inactive → pending (while true for less than `for`) → firing; a firing alert whose
condition stops holding stays firing for `keep_firing_for`, then is resolved and kept
15 minutes.  One alert per rule and distinct label set (the fingerprint).  Pending and
firing alerts keep their active-since across restarts; after an outage longer than the
tolerance (default 1h) pending timers restart, as Prometheus's `for-outage-tolerance`.
"""

from __future__ import annotations

import functools
import hashlib
import json
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

import jinja2
from jinja2.sandbox import SandboxedEnvironment

from console.alerts.silences import load_silences, silenced_by
from console.core.secrets import redact
from console.rules.evaluation import RuleResult, evaluate
from console.rules.matchers import DEFAULT_INHIBIT_RULES, InhibitRule, inhibited_by
from console.rules.model import Rule
from console.store.ingest import canonical_labels

if TYPE_CHECKING:
    from console.store import Store

RESOLVED_RETENTION = timedelta(minutes=15)
OUTAGE_TOLERANCE = timedelta(hours=1)
EXTERNAL_SOURCES = ("alertmanager",)  # rows other writers own; the engine never touches them

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


def fingerprint(rule_key: str, labels: dict[str, str]) -> str:
    """A stable id for a rule's alert with this label set."""
    return hashlib.sha256(f"{rule_key}\0{canonical_labels(labels)}".encode()).hexdigest()[:16]


@functools.lru_cache(maxsize=4096)
def _compiled(template: str) -> jinja2.Template:
    return _env.from_string(template)


def render(template: str, labels: dict[str, str], value: float | None, now: datetime) -> str:
    """Expand one label or annotation template in the sandbox; errors become the text."""
    if "{" not in template:
        return template
    try:
        return _compiled(template).render(labels=labels, value=value, now=now)
    except Exception as exc:  # noqa: BLE001 - untrusted label values must never break an evaluation
        return f"<error expanding template: {exc}>"


def step(
    rule: Rule,
    result: RuleResult,
    previous: Iterable[Alert],
    now: datetime,
    *,
    tolerance: timedelta = OUTAGE_TOLERANCE,
) -> tuple[list[Alert], list[Transition], list[str]]:
    """One evaluation of one rule: (its alerts now, the transitions, warnings).  Pure."""
    prev = {a.fingerprint: replace(a) for a in previous}
    transitions: list[Transition] = []
    warnings: list[str] = []

    def move(alert: Alert, to_state: str) -> None:
        transitions.append(Transition(alert.fingerprint, now, alert.state, to_state, alert.value, rule.key))
        alert.state = to_state

    if result.error is not None:
        return [a for a in prev.values() if not _expired(a, now)], transitions, warnings
    current: dict[str, tuple[dict[str, str], float | None]] = {}
    duplicates = 0
    for instance in result.instances:
        labels = dict(instance.labels)
        for key, template in rule.labels.items():
            labels[key] = render(template, instance.labels, instance.value, now)
        labels["alertname"] = rule.name
        fp = fingerprint(rule.key, labels)
        if fp in current:
            duplicates += 1
            continue
        current[fp] = (labels, instance.value)
    if duplicates:
        warnings.append(f"{duplicates} row(s) repeat a label set already returned; kept the first of each")
    alerts: list[Alert] = []
    for fp, (labels, value) in current.items():
        alert = prev.pop(fp, None)
        if alert is None or alert.state in ("inactive", "resolved"):
            alert = Alert(
                fp,
                rule.key,
                rule.name,
                labels,
                alert.state if alert else "inactive",
                source=rule.source,
                active_since=now,
                value=value,
            )
            move(alert, "firing" if rule.for_ <= timedelta(0) else "pending")
            if alert.state == "firing":
                alert.fired_at = now
        elif alert.state == "pending" and alert.last_eval is not None and now - alert.last_eval > tolerance:
            alert.active_since = now  # outage longer than the tolerance: timer restarts
        alert.labels, alert.value, alert.keep_until, alert.last_eval = labels, value, None, now
        alert.source, alert.resolved_at, alert.stale = rule.source, None, None
        if (
            alert.state == "pending"
            and alert.active_since is not None
            and now - alert.active_since >= rule.for_
        ):
            move(alert, "firing")
            alert.fired_at = now
        alert.annotations = {k: render(t, labels, value, now) for k, t in rule.annotations.items()}
        alerts.append(alert)
    for alert in prev.values():  # instances the query no longer returns
        alert.stale = None
        if alert.state == "pending":
            move(alert, "inactive")
            continue
        if alert.state == "firing":
            if rule.keep_firing_for > timedelta(0):
                if alert.keep_until is None:
                    alert.keep_until = now + rule.keep_firing_for
                if now < alert.keep_until:
                    alert.last_eval = now
                    alerts.append(alert)
                    continue
            move(alert, "resolved")
            alert.resolved_at, alert.keep_until, alert.last_eval = now, None, now
        if not _expired(alert, now):
            alerts.append(alert)
    return alerts, transitions, warnings


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
                Transition(alert.fingerprint, now, alert.state, to_state, alert.value, alert.rule, reason)
            )
            alert.state, alert.resolved_at, alert.keep_until = to_state, now, None
        if not _expired(alert, now):
            kept.append(alert)
    return kept, transitions


# -- persistence -------------------------------------------------------------------------

_ALERT_COLUMNS = (
    "fingerprint",
    "source",
    "rule",
    "name",
    "labels",
    "annotations",
    "state",
    "active_since",
    "fired_at",
    "resolved_at",
    "last_eval",
    "keep_until",
    "value",
    "silenced_by",
    "inhibited_by",
    "stale",
)


def _alert_from_row(row: tuple) -> Alert:
    d = dict(zip(_ALERT_COLUMNS, row))
    return Alert(
        d["fingerprint"],
        d["rule"] or "",
        d["name"],
        json.loads(d["labels"] or "{}"),
        d["state"],
        source=d["source"],
        annotations=json.loads(d["annotations"] or "{}"),
        active_since=d["active_since"],
        fired_at=d["fired_at"],
        resolved_at=d["resolved_at"],
        last_eval=d["last_eval"],
        keep_until=d["keep_until"],
        value=d["value"],
        silenced_by=json.loads(d["silenced_by"] or "[]"),
        inhibited_by=json.loads(d["inhibited_by"] or "[]"),
        stale=d["stale"],
    )


def load_alerts(store: Store, *, external: bool | None = False) -> list[Alert]:
    """Alerts in the store: the engine's own (default), only external ones, or all (None)."""
    sql = f"SELECT {', '.join(_ALERT_COLUMNS)} FROM alerts"
    marks = ", ".join("?" for _ in EXTERNAL_SOURCES)
    if external is False:
        sql += f" WHERE source NOT IN ({marks})"
    elif external is True:
        sql += f" WHERE source IN ({marks})"
    _, rows = store.query(
        sql + " ORDER BY fingerprint", list(EXTERNAL_SOURCES) if external is not None else []
    )
    return [_alert_from_row(r) for r in rows]


def save(
    store: Store, alerts: list[Alert], transitions: list[Transition], rule_states: list[dict[str, Any]]
) -> None:
    """Replace the engine's alert rows, append history and rule health, in one transaction."""
    import pyarrow as pa

    rows: dict[str, list[Any]] = {c: [] for c in _ALERT_COLUMNS}
    for a in alerts:
        for column, value in (
            ("fingerprint", a.fingerprint),
            ("source", a.source),
            ("rule", a.rule),
            ("name", a.name),
            ("labels", canonical_labels(a.labels)),
            ("annotations", json.dumps(a.annotations, ensure_ascii=False)),
            ("state", a.state),
            ("active_since", a.active_since),
            ("fired_at", a.fired_at),
            ("resolved_at", a.resolved_at),
            ("last_eval", a.last_eval),
            ("keep_until", a.keep_until),
            ("value", a.value),
            ("silenced_by", json.dumps(a.silenced_by)),
            ("inhibited_by", json.dumps(a.inhibited_by)),
            ("stale", a.stale),
        ):
            rows[column].append(value)
    ts_type = pa.timestamp("us")
    types = {
        c: (
            ts_type
            if c in ("active_since", "fired_at", "resolved_at", "last_eval", "keep_until")
            else pa.float64()
            if c == "value"
            else pa.string()
        )
        for c in _ALERT_COLUMNS
    }
    alert_table = pa.table({c: pa.array(rows[c], type=types[c]) for c in _ALERT_COLUMNS})
    history = pa.table(
        {
            "fingerprint": pa.array([t.fingerprint for t in transitions], pa.string()),
            "ts": pa.array([t.ts for t in transitions], ts_type),
            "from_state": pa.array([t.from_state for t in transitions], pa.string()),
            "to_state": pa.array([t.to_state for t in transitions], pa.string()),
            "value": pa.array([t.value for t in transitions], pa.float64()),
            "reason": pa.array([t.reason for t in transitions], pa.string()),
        }
    )
    states = pa.table(
        {
            "rule": pa.array([s["rule"] for s in rule_states], pa.string()),
            "source": pa.array([s["source"] for s in rule_states], pa.string()),
            "group_name": pa.array([s["group"] for s in rule_states], pa.string()),
            "last_eval": pa.array([s["last_eval"] for s in rule_states], ts_type),
            "health": pa.array([s["health"] for s in rule_states], pa.string()),
            "last_error": pa.array([s["error"] for s in rule_states], pa.string()),
            "instances": pa.array([s["instances"] for s in rule_states], pa.int64()),
            "duration_ms": pa.array([s["duration_ms"] for s in rule_states], pa.float64()),
            "file": pa.array([s.get("file") for s in rule_states], pa.string()),
        }
    )
    marks = ", ".join("?" for _ in EXTERNAL_SOURCES)
    with store.transaction() as cur:
        cur.register("_alerts_in", alert_table)
        cur.register("_history_in", history)
        cur.register("_rule_state_in", states)
        try:
            cur.execute(f"DELETE FROM alerts WHERE source NOT IN ({marks})", list(EXTERNAL_SOURCES))
            cur.execute(
                f"INSERT INTO alerts ({', '.join(_ALERT_COLUMNS)}) "
                f"SELECT {', '.join(_ALERT_COLUMNS)} FROM _alerts_in"
            )
            cur.execute(
                "INSERT INTO alert_history (fingerprint, ts, from_state, to_state, value, "
                "reason) SELECT * FROM _history_in"
            )
            cur.execute("INSERT OR REPLACE INTO rule_state BY NAME SELECT * FROM _rule_state_in")
        finally:
            for name in ("_alerts_in", "_history_in", "_rule_state_in"):
                cur.unregister(name)


def load_rule_states(store: Store) -> dict[str, dict[str, Any]]:
    """Each rule's last evaluation, health and error, by rule key."""
    columns, rows = store.query("SELECT * FROM rule_state ORDER BY rule")
    return {r[0]: dict(zip(columns, r)) for r in rows}


# -- the engine ---------------------------------------------------------------------------


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


def apply_silences(
    alerts: list[Alert],
    others: list[Alert],
    silences: list[Any],
    inhibit_rules: list[InhibitRule],
    now: datetime,
) -> None:
    """Set each alert's silenced_by and inhibited_by as Alertmanager does.

    Every firing alert of any source can inhibit, muted or not (as Alertmanager's sources are
    all its unresolved alerts); `state` stays the rule's state, see `reported_state`.
    """
    sources = [
        (a.fingerprint, a.labels) for a in list(alerts) + list(others) if a.state in ("firing", "suppressed")
    ]
    for alert in alerts:
        alert.silenced_by = silenced_by(alert.labels, silences, now)
        alert.inhibited_by = (
            inhibited_by(alert.fingerprint, alert.labels, sources, inhibit_rules)
            if alert.state == "firing"
            else []
        )


def reported_state(alert: Alert) -> str:
    """The state to show, as Alertmanager's API: a firing alert a silence or inhibition mutes is `suppressed`."""
    if alert.state == "firing" and (alert.silenced_by or alert.inhibited_by):
        return "suppressed"
    return alert.state


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
    ) -> None:
        """`orphans(rule_key, file)` decides for alerts whose rule is not among `rules`:
        the reason to resolve them ("rule removed from FILE"), or None to keep their state
        (marked stale) because their file failed to load.  By default they resolve."""
        self.store = store
        self.rules = rules
        self.orphans = orphans or (lambda key, file: f"rule removed from {file}" if file else "rule removed")
        self.default_inhibit = list(DEFAULT_INHIBIT_RULES)
        self.inhibit_rules = self.default_inhibit + list(inhibit_rules or [])
        self.tolerance = outage_tolerance
        self.notifier = notifier
        self.batched = batched

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
        results = evaluate(self.store, todo, now, batched=self.batched)
        previous: dict[str, list[Alert]] = {}
        for alert in load_alerts(self.store):
            previous.setdefault(alert.rule, []).append(alert)
        known = {r.key for r in self.rules}
        alerts: list[Alert] = []
        rule_states: list[dict[str, Any]] = []
        elapsed_ms = (time.perf_counter() - started) * 1000 / max(len(todo), 1)
        for result in results:
            rule = result.rule
            new, transitions, warnings = step(
                rule, result, previous.pop(rule.key, []), now, tolerance=self.tolerance
            )
            if result.error:  # its alerts keep their state; say why they are not current
                for alert in new:
                    alert.stale = f"rule {rule.key} fails: {result.error}"
            alerts += new
            report.transitions += transitions
            if result.error:
                report.broken[rule.key] = result.error
            if warnings:
                report.warnings[rule.key] = warnings
            rule_states.append(
                {
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
            )
        for key, rest in previous.items():
            if key in known:  # not due this cycle: unchanged
                alerts += rest
                continue
            file = states.get(key, {}).get("file")
            reason = self.orphans(key, file)
            if reason is None:  # its file failed to load: nothing resolves because of that
                why = f"{file or 'its rule file'} does not load; state kept from {rest[0].last_eval}"
                alerts += [replace(a, stale=why) for a in rest]
                report.stale[key] = why
                continue
            kept, transitions = resolve_orphans(rest, now, reason)
            alerts += kept
            report.transitions += transitions
        external = load_alerts(self.store, external=True)
        apply_silences(alerts, external, load_silences(self.store, now), self.inhibit_rules, now)
        save(self.store, alerts, report.transitions, rule_states)
        report.evaluated, report.alerts = len(todo), alerts
        if self.notifier is not None:
            try:
                self.notifier.push([a for a in alerts if a.state in ("firing", "resolved")], now)
            except Exception as exc:  # noqa: BLE001 - paging is the team's stack; a failure must not stop us
                report.notify_error = redact(str(exc))
        report.seconds = time.perf_counter() - started
        return report


def backtest(
    store: Store, rules: list[Rule], start: datetime, end: datetime, step_size: timedelta | None = None
) -> dict[str, list[datetime]]:
    """When each rule would have fired between `start` and `end` (nothing is written)."""
    step_size = step_size or min((r.interval for r in rules), default=timedelta(minutes=1))
    states: dict[str, list[Alert]] = {r.key: [] for r in rules}
    fired: dict[str, list[datetime]] = {r.key: [] for r in rules}
    now = start
    while now <= end:
        for result in evaluate(store, rules, now):
            key = result.rule.key
            states[key], transitions, _ = step(result.rule, result, states[key], now)
            fired[key] += [t.ts for t in transitions if t.to_state == "firing"]
        now += step_size
    return fired
