"""The store owner's loop: run collectors, evaluate alert rules, report what changed.

Pure in time: every step takes `now`.  The console and `oncall demo` call `tick(now)`
from a worker thread on a schedule; tests call it with fixed times.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from concurrent.futures import Future, wait
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from console.config.workspace import Workspace, build_collectors
from console.incidents.events import Event
from console.store import Store

if TYPE_CHECKING:
    from collectors.base import Collector
    from collectors.run import RunOutcome
    from console.alerts.state import Alert, Transition
    from console.canary.model import CanarySpec
    from console.rules.matchers import InhibitRule
    from console.rules.model import Rule
    from console.runtime.canaries import Judge
    from console.runtime.lastgood import Config
    from console.team.lease import Lease


@dataclass
class TickReport:
    now: datetime
    events: list[Event] = field(default_factory=list)
    rows: int = 0
    seconds: float = 0.0


class SimClock:
    """Time that runs `speed` times faster than the wall clock, from `start`."""

    def __init__(
        self, start: datetime, speed: float = 1.0, monotonic: Callable[[], float] = time.monotonic
    ) -> None:
        self.start, self.speed, self._monotonic = start, speed, monotonic
        self._origin = monotonic()

    def __call__(self) -> datetime:
        return self.start + timedelta(seconds=(self._monotonic() - self._origin) * self.speed)

    def restart(self) -> None:
        """Let simulated time begin now (e.g. after the demo's history is written)."""
        self._origin = self._monotonic()


class Engine:
    """Collectors and the alert engine over one store, stepped by `tick(now)`.

    Without explicit `rules`, the rules are the workspace's configuration in force
    (`console.runtime.lastgood`): loaded again whenever one of its files changes, each file falling
    back to its last good version when it fails to load.
    """

    collect_wait = 10.0  # seconds a tick waits for its collectors before evaluating
    tick_interval = timedelta(seconds=2)  # how often the console ticks (the lease's fallback)
    # With `team:`, the evaluator lease (set by the Session): only its holder evaluates.
    lease: Lease | None = None

    def __init__(
        self,
        workspace: Workspace,
        store: Store,
        *,
        collectors: list[Collector] | None = None,
        extra_collectors: Sequence[Collector] = (),
        rules: list[Rule] | None = None,
        inhibit_rules: list[InhibitRule] | None = None,
        notifier: Any = None,
        config: Config | None = None,
        canaries: str = "on",
        canary_judge: Judge | None = None,
    ) -> None:
        """`canaries`: on (each canary judged every interval), dry-run (judged; a rollback is
        only planned) or off; `canary_judge` replaces the judgement (tests)."""
        from console.alerts.state import AlertEngine
        from console.runtime.canaries import CanaryLoop

        self.workspace, self.store = workspace, store
        self.collectors = (collectors if collectors is not None else build_collectors(workspace)) + list(
            extra_collectors
        )
        self.config: Config | None = config
        self._from_config = rules is None  # the configuration is loaded at the first tick
        self.alerts = AlertEngine(
            store,
            list(rules or []),
            inhibit_rules or [],
            notifier=notifier,
            orphans=self._orphan_reason if self._from_config else None,
            windows=workspace.config.promql.windows,
            external_labels=workspace.config.external_labels,
        )
        if config is not None:
            self._use(config)
        self._health: dict[str, bool] = {}
        from collectors.lanes import Lanes

        self.lanes = Lanes(store)
        self._runs: dict[str, tuple[Collector, Future[RunOutcome]]] = {}  # started, not yet reported
        # (version, degraded, canary, canary degraded) a simulator said last
        self._serving: dict[str, tuple[Any, ...]] = {}
        self._targets_checked = False  # stale markers for removed scrape targets, at the first tick
        self.canary_mode = canaries
        self.canaries = CanaryLoop(canary_judge or self._judge_canary, dry_run=canaries == "dry-run")
        self._compacted: datetime | None = None  # when the store's closed days were last compacted
        self._retained: datetime | None = None  # when retention last ran
        self._evaluator: tuple[bool, str | None] | None = None  # (we evaluate, holder) last said

    def _orphan_reason(self, rule_key: str, file: str | None) -> str | None:
        assert self.config is not None  # rules come from the configuration only once it is loaded
        return self.config.orphan_reason(rule_key, file)

    def _use(self, config: Config) -> None:
        self.config = config
        self.alerts.rules = config.all_rules()
        self.alerts.inhibit_rules = self.alerts.default_inhibit + list(config.inhibit_rules)

    def reload_if_changed(self, now: datetime) -> list[Event]:
        """Load the configuration (first tick), or again when one of its files changed;
        say what changed."""
        from console.runtime.lastgood import config_changed, load_config, reload_workspace

        if not self._from_config:
            return []
        if self.config is None:
            first = load_config(self.workspace, self.store, now)
            self._use(first)
            return [Event(now, "config", f"does not load: {line}") for line in first.lines()]
        if not config_changed(self.config):
            return []
        before = set(self.config.lines())
        self.workspace = reload_workspace(self.workspace, self.store)
        self.alerts.windows = self.workspace.config.promql.windows
        self.alerts.external_labels = dict(self.workspace.config.external_labels)
        config = load_config(self.workspace, self.store, now)
        self._use(config)
        after = set(config.lines())
        events = [Event(now, "config", f"configuration reloaded: {len(self.alerts.rules)} rules")]
        events += [Event(now, "config", f"does not load: {line}") for line in sorted(after - before)]
        events += [
            Event(now, "config", f"loads again: {line.split(' — ')[0]}") for line in sorted(before - after)
        ]
        return events

    def tick(self, now: datetime) -> TickReport:
        """Run every collector once (each in its lane, waited for at most `collect_wait`),
        then the due rules; return what changed.  With `team:`, the evaluator lease is renewed
        first and only its holder evaluates."""
        started = time.perf_counter()
        report = TickReport(now)
        report.events += self._reload(now)
        if self.lease is not None:
            report.events += self._lead(now)
        if not self._targets_checked:
            report.events += self._end_removed_targets(now)
        report.events += self._collect(now, report)
        if not (self._from_config and self.config is None):
            if self.lease is None:
                report.events += self._judge_canaries(now)
                report.events += self._evaluate(now)
            elif self.lease.token is not None:
                report.events += self._evaluate_fenced(now)
        report.events += self._retain(now)
        report.events += self._compact(now)
        report.seconds = time.perf_counter() - started
        return report

    def _lead(self, now: datetime) -> list[Event]:
        """Renew or take the evaluator lease (its TTL from the rules in force); said when who
        evaluates changes (docs/team.md, "Who evaluates")."""
        from console.runtime.evaluator import lead, lease_ttl

        assert self.lease is not None
        if not self.lease.fixed_ttl:
            self.lease.ttl = lease_ttl(self.alerts.rules, self.tick_interval)
        held, events = lead(self.lease, now, self._evaluator)
        self._evaluator = (held, self.lease.last.holder if self.lease.last else None)
        return events

    def _evaluate_fenced(self, now: datetime) -> list[Event]:
        """The holder's canaries and rules, every shared transaction checked against its token:
        a console that lost the lease meanwhile writes nothing, and says so."""
        from console.team.lease import LeaseLost

        assert self.lease is not None
        try:
            with self.lease.fenced():
                return self._judge_canaries(now) + self._evaluate(now)
        except LeaseLost as exc:
            self._evaluator = None  # the next tick says who holds it now
            self.lease.token = None
            return [Event(now, "team", str(exc))]

    def _judge_canaries(self, now: datetime) -> list[Event]:
        """Each canary in force whose interval has passed, judged (a failing one is said)."""
        specs = list(getattr(self.config, "canaries", None) or [])
        if self.canary_mode == "off" or not specs:
            return []
        return self.canaries.run(specs, now)

    def _judge_canary(self, spec: CanarySpec, now: datetime, dry_run: bool) -> Any:
        from console.runtime.canaries import judge_in_console

        return judge_in_console(self.workspace, self.store, spec, now, dry_run=dry_run)

    def _end_removed_targets(self, now: datetime) -> list[Event]:
        """Once: stale markers for the series of scrape targets no longer configured."""
        from collectors.staleness import mark_removed_targets

        self._targets_checked = True
        try:
            written = mark_removed_targets(self.store, [c.name for c in self.collectors], now)
        except Exception as exc:  # noqa: BLE001 - the tick goes on; the event says what failed
            return [Event(now, "collector", f"stale markers for removed targets failed: {exc}")]
        return (
            [Event(now, "collector", f"{written} series of removed scrape targets ended")] if written else []
        )

    def _retain(self, now: datetime) -> list[Event]:
        """Once a UTC day (and at the first tick): rows older than the workspace's `retention`
        deleted; the file is not rewritten here (other threads hold cursors), its freed blocks
        are reused and `oncall compact` gives the space back."""
        days = self.workspace.config.retention.days()
        if self.store.read_only or not days:
            return []
        if self._retained is not None and self._retained.date() >= now.date():
            return []
        self._retained = now
        try:
            removed = self.store.apply_retention(now, days, reclaim=False)
        except Exception as exc:  # noqa: BLE001 - the tick goes on; the event says what failed
            return [Event(now, "store", f"retention failed: {exc}")]
        gone = ", ".join(f"{count} {kind}" for kind, count in removed.items() if count)
        return [Event(now, "store", f"retention: removed {gone}")] if gone else []

    def _compact(self, now: datetime) -> list[Event]:
        """After a UTC day closes: its samples compacted in the store (console/store/compact.py)."""
        from console.store.compact import compact_in_place, compaction_due

        if self.store.read_only:
            return []
        due, self._compacted = compaction_due(self.store, now, last=self._compacted), now
        if not due:
            return []
        try:
            moved = compact_in_place(self.store, now)
        except Exception as exc:  # noqa: BLE001 - the tick goes on; the event says what failed
            return [Event(now, "store", f"compaction of closed days failed: {exc}")]
        return [Event(now, "store", f"{moved} samples of closed days compacted")]

    def _reload(self, now: datetime) -> list[Event]:
        try:
            return self.reload_if_changed(now)
        except Exception as exc:  # noqa: BLE001 - what is in force stays; the event says why
            kept = (
                "the configuration loaded before stays in force"
                if self.config is not None
                else "no rule is evaluated and every alert keeps its state"
            )
            return [
                Event(now, "config", f"configuration failed to load: {type(exc).__name__}: {exc}; {kept}")
            ]

    def _evaluate(self, now: datetime) -> list[Event]:
        """The due rules' transitions and failures, then what they did to incidents."""
        from console.incidents.loop import engine_events  # paging alerts -> incidents, timelines

        try:
            cycle = self.alerts.run(now, only_due=True)
        except Exception as exc:
            if getattr(self.store.shared, "outage", None) is None:
                raise
            from console.team.backend import TeamUnreachable  # loaded: the team's shared tables

            if not isinstance(exc, TeamUnreachable):
                raise
            # the team database is unreachable (the banner says since when): no rule is
            # evaluated, every alert keeps its state, and the tick goes on (metrics stay live)
            return []
        by_fingerprint = {a.fingerprint: a for a in cycle.alerts}
        events = [_transition_event(t, by_fingerprint.get(t.fingerprint)) for t in cycle.transitions]
        events += [Event(now, "rule", f"{rule} fails: {error}") for rule, error in cycle.broken.items()]
        return events + engine_events(self.store, now)

    def _collect(self, now: datetime, report: TickReport) -> list[Event]:
        """Start each collector in its lane (a source still running is skipped and counted),
        wait for them at most `collect_wait` s, report the runs that ended; the others are
        reported by a later tick.  Evaluating collectors (drift) start after the sources."""
        from collectors.lanes import phases

        for phase in phases(self.collectors):
            wait(self._start(phase, now), timeout=self.collect_wait)
        events: list[Event] = []
        for name, (collector, future) in list(self._runs.items()):
            if future.done():
                del self._runs[name]
                events += self._ended(collector, future.result(), now, report)
        return events

    def _start(self, phase: list[Collector], now: datetime) -> list[Future[RunOutcome]]:
        """Start each collector of `phase` whose lane is free; their futures."""
        started = []
        for collector in phase:
            if self.lease is not None and self.lease.token is None and collector.kind == "alertmanager":
                continue  # with team:, Alertmanager's alerts are the team's state: the evaluator's to write
            future = self.lanes.start(collector, now)
            if future is not None:
                self._runs[collector.name] = (collector, future)
                started.append(future)
        return started

    def _ended(
        self, collector: Collector, outcome: RunOutcome, now: datetime, report: TickReport
    ) -> list[Event]:
        """A run that ended: a change of health is said once; a healthy run's rows are counted."""
        name = collector.name
        was_healthy = self._health.get(name, True)
        self._health[name] = outcome.ok
        if not outcome.ok:
            return [Event(now, "collector", f"{name} unhealthy: {outcome.error}")] if was_healthy else []
        report.rows += outcome.rows
        events = [] if was_healthy else [Event(now, "collector", f"{name} healthy again")]
        return events + self._collector_events(collector, outcome, now)

    def _collector_events(self, collector: Collector, result: RunOutcome, now: datetime) -> list[Event]:
        """The demo simulator says when what it serves changes."""
        detail = getattr(result, "detail", None) or {}
        if "serving" not in detail:
            return []
        canary = detail.get("canary")
        state = (detail["serving"], detail.get("degraded"), canary, detail.get("canary_degraded"))
        previous = self._serving.get(collector.name)
        self._serving[collector.name] = state
        if previous == state:
            return []
        text = f"{collector.name} serves version {state[0]} ({_health(state[1])})"
        if canary is not None:
            text += f", canary {canary} ({_health(state[3])})"
        data = {"version": state[0], "degraded": state[1]}
        return [Event(now, "serving", text, data if canary is None else {**data, "canary": canary})]


def _health(degraded: Any) -> str:
    return "DEGRADED" if degraded else "healthy"


def _transition_event(transition: Transition, alert: Alert | None) -> Event:
    # A pending alert that goes inactive is no longer among the cycle's alerts: its labels
    # come with the transition.
    name = alert.name if alert else transition.labels.get("alertname", transition.rule)
    labels = ",".join(f"{k}={v}" for k, v in sorted(transition.labels.items()) if k != "alertname")
    return Event(
        transition.ts,
        "alert",
        f"{name} {transition.to_state} {{{labels}}}",
        {
            "fingerprint": transition.fingerprint,
            "from": transition.from_state,
            "to": transition.to_state,
            "name": name,
            "value": transition.value,
        },
    )
