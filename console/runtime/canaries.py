"""Continuous canary judgement inside the console: each canary spec judged every `interval`.

The engine calls `CanaryLoop.run(specs, now)` once a tick, after the collectors and before the
rules, so `CanaryFailed` sees a fresh verdict in the same tick.  A judgement that raises stops
neither the tick nor the other canaries: it is said (an event, once per distinct failure) and
kept in `failures` for the Canary view.  What is said: a verdict or version that changed, the
metrics that failed to collect, a rollback planned or applied, and judgements that fail.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from console.incidents.events import Event
from console.screens.canary import analysis_line

if TYPE_CHECKING:
    from console.canary.model import CanarySpec

# judge(spec, now, dry_run) -> the run: an object with `analysis` (console.canary.judge.Analysis)
# and optionally `rollback` (what was planned or applied, as text), e.g. console.canary.run.CanaryRun
Judge = Callable[["CanarySpec", datetime, bool], Any]


@dataclass
class Skipped:
    """Nothing judged this time, and why (e.g. the canary's alias names the baseline's version)."""

    why: str


@dataclass
class Failure:
    """A judgement that raised: when, and what it said."""

    at: datetime
    message: str


class CanaryLoop:
    """Judges each spec when its interval has passed since its last judgement (the first at once)."""

    def __init__(self, judge: Judge, *, dry_run: bool = False) -> None:
        self.judge, self.dry_run = judge, dry_run
        self.last_run: dict[str, datetime] = {}
        self.failures: dict[str, Failure] = {}
        self.skipped: dict[str, str] = {}  # canary name -> why it was not judged last time
        self._said: dict[str, tuple[Any, ...]] = {}  # per canary: the verdict line's key last said

    def due(self, spec: CanarySpec, now: datetime) -> bool:
        last = self.last_run.get(spec.name)
        return last is None or now - last >= _interval(spec) or now < last

    def run(self, specs: list[CanarySpec], now: datetime) -> list[Event]:
        events: list[Event] = []
        for spec in specs:
            if not self.due(spec, now):
                continue
            self.last_run[spec.name] = now
            try:
                result = self.judge(spec, now, self.dry_run)
            except Exception as exc:  # noqa: BLE001 - one canary's failure is said; the tick goes on
                events += self._failed(spec, now, f"{type(exc).__name__}: {exc}")
                continue
            events += self._judged(spec, now, result)
        for name in set(self.failures) - {s.name for s in specs}:
            del self.failures[name]  # a canary removed from the workspace
        for name in set(self.skipped) - {s.name for s in specs}:
            del self.skipped[name]
        return events

    def _failed(self, spec: CanarySpec, now: datetime, message: str) -> list[Event]:
        first_line = message.splitlines()[0] if message else "failed"
        before = self.failures.get(spec.name)
        self.failures[spec.name] = Failure(now, first_line)
        if before is not None and before.message == first_line:
            return []  # said already
        self._said.pop(spec.name, None)  # the next verdict is said again
        return [
            Event(now, "canary", f"canary {spec.name}: judgement failed: {first_line}", {"canary": spec.name})
        ]

    def _judged(self, spec: CanarySpec, now: datetime, result: Any) -> list[Event]:
        events = []
        if self.failures.pop(spec.name, None) is not None:
            events.append(Event(now, "canary", f"canary {spec.name}: judged again", {"canary": spec.name}))
        self.skipped.pop(spec.name, None)
        if isinstance(result, Skipped):
            self.skipped[spec.name] = result.why
            if self._said.get(spec.name) != (result.why,):
                self._said[spec.name] = (result.why,)
                events.append(
                    Event(now, "canary", f"canary {spec.name}: {result.why}", {"canary": spec.name})
                )
            return events
        analysis = result.analysis
        rollback = _rollback_text(getattr(result, "rollback", None))
        versions = (analysis.baseline_version, analysis.canary_version)
        key = (analysis.verdict, *versions, tuple(sorted(analysis.errors)), rollback)
        if self._said.get(spec.name) != key:
            self._said[spec.name] = key
            detail = {
                "canary": spec.name,
                "model": spec.model,
                "verdict": analysis.verdict,
                "score": analysis.score,
                "canary_version": analysis.canary_version,
            }
            events.append(Event(now, "canary", analysis_line(analysis, versions=True), detail))
            if rollback:
                events.append(Event(now, "canary", f"canary {spec.name}: {rollback}", {"canary": spec.name}))
        return events


def _rollback_text(rollback: Any) -> str | None:
    """What the rollback on a fail came to, in words (console.canary.run.RollbackOutcome)."""
    if rollback is None:
        return None
    return f"rollback {rollback.state}: {rollback.message}"


def _interval(spec: Any) -> timedelta:
    interval = getattr(spec, "interval", None)
    return interval if isinstance(interval, timedelta) and interval > timedelta(0) else timedelta(minutes=1)


CANARY_GROUP = "oncall-canary"
CANARY_FAILED = "CanaryFailed"


def _severity(on_fail: str, rollback: dict[str, Any] | None) -> str:
    """Page a human when a failed canary still serves: `on_fail: page`, or a rollback that was
    not applied (dry run, not allowed, refused, failed).  A rollback that was applied took the
    bad version out already: a ticket, for the day, with the analysis to read."""
    if on_fail == "page":
        return "page"
    if on_fail == "rollback":
        return "ticket" if rollback and rollback.get("state") == "applied" else "page"
    return "ticket"


def canary_rules(config: Any) -> list[Any]:
    """`CanaryFailed`: one alert per canary in force whose latest verdict is fail; severity page
    while the failed version still serves (`on_fail: page`, or a rollback not applied), ticket
    once its rollback was applied or for `on_fail: none`; the summary is the analysis's reason.

    It goes through the normal alert path (pending/firing, incidents for a page, Alertmanager)."""
    from console.rules.model import Computed, Rule

    specs = list(getattr(config, "canaries", None) or [])
    if not specs:
        return []
    key = f"{CANARY_GROUP}/{CANARY_FAILED}"

    def failed(store: Any, now: datetime) -> dict[str, list[tuple[dict[str, str], float | None]]]:
        from console.screens.canary import latest

        newest = latest(store)
        found = []
        for spec in specs:
            analysis, rollback = newest.get(spec.name, (None, None))
            if analysis is None or analysis.verdict != "fail":
                continue
            labels = {
                "canary": spec.name,
                "model": spec.model,
                "canary_version": str(analysis.canary_version),
                "severity": _severity(spec.on_fail, rollback),
                "reason": analysis.reason,  # for the annotations only (see the rule's labels)
                "line": analysis_line(analysis, versions=True),
            }
            found.append((labels, analysis.score))
        return {key: found}

    shortest = min(_interval(spec) for spec in specs)
    return [
        Rule(
            CANARY_FAILED,
            Computed("canary-failed", failed),
            group=CANARY_GROUP,
            # a rule label that renders empty removes the instance's label: `reason` changes with
            # every analysis, so it must not be part of the alert's identity
            labels={"reason": "", "line": ""},
            annotations={
                "summary": "{{ $labels.reason }}",
                "description": "{{ $labels.line }}. The Canary view (:canary) shows every metric "
                "and both groups' values.",
            },
            source="canary",
            file=str(config.workspace.path),
            interval=max(shortest, timedelta(seconds=10)),
            templates="go",
        )
    ]


def judge_in_console(workspace: Any, store: Any, spec: CanarySpec, now: datetime, *, dry_run: bool) -> Any:
    """One canary's judgement as `oncall canary run` makes it (console.canary.run): collected from
    the store, judged, stored, and on a fail with `on_fail: rollback` the rollback planned, and
    applied unless dry run or the workspace forbids actions.

    A protected model needs its name typed to roll back; here the canaries file's
    `on_fail: rollback` is that confirmation, given in advance by whoever wrote it (its
    file:line is in the audited plan).  The actor is this console's OS account, for
    "oncall (auto)"."""
    from console.registry import open_registry, pick_registry

    config = pick_registry(workspace, None)
    registry = open_registry(config, store=store, clock=lambda: now, workspace=workspace)
    try:
        baseline, canary = _version(registry, spec, spec.baseline), _version(registry, spec, spec.canary)
        if baseline is not None and baseline == canary:  # e.g. after a rollback
            return Skipped(
                f"{spec.canary} and {spec.baseline} both name v{canary} of {spec.model}: nothing to judge"
            )
        if baseline is not None and canary is None and not spec.canary.isdigit():
            return Skipped(f"{spec.model} has no alias {spec.canary!r} (yet): no canary to judge")
        return _run(workspace, store, spec, registry, config, now, dry_run)
    finally:
        close = getattr(registry, "close", None)
        if close is not None:
            close()


def _version(registry: Any, spec: CanarySpec, value: str) -> str | None:
    """The version `value` names (a version as it is, an alias resolved); None when neither:
    the judgement then says so (console.canary.collect.resolve)."""
    from console.canary.collect import is_version
    from console.registry import RegistryError

    if is_version(registry, spec, value):
        return str(value)
    try:
        return str(registry.resolve_alias(spec.model, value).version)
    except RegistryError:
        return None


def _run(
    workspace: Any, store: Any, spec: CanarySpec, registry: Any, config: Any, now: datetime, dry_run: bool
) -> Any:
    from console.canary.run import RunOptions, run_analysis
    from console.core.identity import current_actor
    from console.incidents.loop import AUTO_ACTOR

    open_incident = store.shared.query(
        "SELECT id FROM incidents WHERE status NOT IN ('resolved', 'closed') ORDER BY created_at DESC LIMIT 1"
    )[1]
    options = RunOptions(
        actor=current_actor(AUTO_ACTOR),  # an Actor, as the CLI passes
        allow_actions=workspace.allow_actions,
        dry_run=dry_run,
        protected_models=list(config.protected_models),
        typed_name=spec.model if spec.on_fail == "rollback" else None,
        incident_id=int(open_incident[0][0]) if open_incident else None,
        workspace_path=str(workspace.path),
        windows=workspace.config.promql.windows,
        clock=lambda: now,
    )
    return run_analysis(store, spec, registry, now, options)
