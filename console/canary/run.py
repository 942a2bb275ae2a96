"""One canary analysis end to end: resolve the versions, collect, judge, store, roll back on a fail.

`run_analysis` is what `oncall canary run` and the console's continuous mode call.  With
`on_fail: rollback`, a failed verdict plans `console.actions.Rollback` of the alias the canary
holds (the `canary` field when it is an alias, else the registry's serving alias) back to the
baseline version, with the analysis as its audited reason.  The plan is applied only when the
workspace allows actions and this is not a dry run; Rollback marks the canary version bad
(rollback memory), so a later rollback or promote does not propose it again.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

from console.canary.collect import collect, is_version, resolve
from console.canary.judge import judge
from console.canary.stored import record_rollback, store_analysis, to_json
from console.config.promql import DEFAULT_WINDOWS, Windows

if TYPE_CHECKING:
    from console.actions import Plan
    from console.canary.judge import Analysis
    from console.canary.model import CanarySpec
    from console.canary.shadow import ShadowReport
    from console.registry.base import Clock, Registry
    from console.store import Store

# What the rollback on a fail came to (`RollbackOutcome.state`).
DRY_RUN = "dry-run"  # planned and shown, nothing applied
APPLIED = "applied"
NOT_ALLOWED = "not-allowed"  # the workspace is read-only
REFUSED = "refused"  # the action refused (protected model, marked target, nothing to roll back)
FAILED = "failed"  # the registry call failed; the audit log says how


@dataclass
class RollbackOutcome:
    """The rollback a failed analysis planned, and what became of it."""

    state: str
    message: str
    plan: Plan | None = None
    result: dict[str, Any] | None = None

    def as_dict(self) -> dict[str, Any]:
        plan = self.plan
        return {
            "state": self.state,
            "message": self.message,
            "plan": None
            if plan is None
            else {"summary": plan.summary, "lines": plan.lines, "params": _plan_params(plan)},
            "result": self.result,
        }


def _plan_params(plan: Plan) -> dict[str, Any]:
    """The plan's parameters without the analysis it carries for the audit log (shown apart)."""
    return {k: v for k, v in plan.params.items() if k != "analysis"}


@dataclass
class CanaryRun:
    """One judgement: the analysis, its row in the store, and the rollback if one was planned."""

    spec: CanarySpec
    analysis: Analysis
    analysis_id: int | None = None
    rollback: RollbackOutcome | None = None
    notes: list[str] = field(default_factory=list)
    shadow: ShadowReport | None = None  # the spec's `shadow:` comparison, when it has one

    def as_dict(self) -> dict[str, Any]:
        return {
            "analysis_id": self.analysis_id,
            **self.analysis.as_dict(),
            "source": self.spec.source,
            "on_fail": self.spec.on_fail,
            "rollback": self.rollback.as_dict() if self.rollback is not None else None,
            "shadow": self.shadow.as_dict() if self.shadow is not None else None,
            "notes": self.notes,
        }


@dataclass
class RunOptions:
    """Who runs the analysis and what it may change."""

    actor: str
    allow_actions: bool = False
    dry_run: bool = False
    protected_models: Sequence[str] = ()
    typed_name: str | None = None  # a protected model's name, typed to confirm
    incident_id: int | None = None
    workspace_path: str = "oncall.yaml"
    windows: Windows = DEFAULT_WINDOWS
    clock: Clock | None = None  # for audit times (default: the analysis time)


def run_analysis(
    store: Store, spec: CanarySpec, registry: Registry, now: datetime, options: RunOptions
) -> CanaryRun:
    """Judge `spec` over the window ending at `now`; store it; on a fail, the rollback it asks for.

    RegistryError or CanaryError when the versions cannot be resolved (nothing is stored)."""
    baseline, canary = resolve(registry, spec)
    values, errors = collect(store, spec, baseline, canary, now, windows=options.windows)
    analysis = judge(spec, values, at=now, baseline_version=baseline, canary_version=canary, errors=errors)
    run = CanaryRun(spec, analysis)
    if store.read_only:
        run.notes.append(f"not stored: the store {store.snapshot_of or store.path} is open read-only")
    else:
        run.analysis_id = store_analysis(store, analysis, now=options.clock() if options.clock else now)
    if spec.shadow is not None:
        _shadow(store, run, now)
    if analysis.verdict == "fail" and spec.on_fail == "rollback":
        run.rollback = _roll_back(store, spec, registry, run, now, options)
        if run.analysis_id is not None:
            record_rollback(store, run.analysis_id, run.rollback.as_dict())
    return run


def _shadow(store: Store, run: CanaryRun, now: datetime) -> None:
    """The spec's shadow comparison (canary as the shadow of the baseline), its series written.

    It reports; it does not change the verdict, which comes from the metrics alone."""
    from console.canary.shadow import record_report, shadow_report
    from console.drift.catalogue import DriftError

    spec, analysis = run.spec, run.analysis
    assert spec.shadow is not None
    try:
        run.shadow = shadow_report(
            store, spec.model, analysis.baseline_version, analysis.canary_version, now, spec.shadow
        )
    except DriftError as exc:
        run.notes.append(f"shadow comparison failed: {exc}")
        return
    if not store.read_only:
        record_report(store, run.shadow)


def _reason(run: CanaryRun) -> str:
    """The audited reason of the rollback: the analysis, in one line."""
    analysis = run.analysis
    number = f" (analysis #{run.analysis_id})" if run.analysis_id is not None else ""
    score = "no score" if analysis.score is None else f"score {analysis.score:.2f}"
    return f"canary {analysis.name} failed{number}, {score}: {analysis.reason}"


def _roll_back(
    store: Store, spec: CanarySpec, registry: Registry, run: CanaryRun, now: datetime, options: RunOptions
) -> RollbackOutcome:
    from console.actions import ActionEnv, ActionFailed, ActionRefused, RegistryError, Rollback

    alias = registry.options.serving_alias if is_version(registry, spec, spec.canary) else spec.canary
    canary = run.analysis.canary_version
    env = ActionEnv(
        store=store,
        registry=registry,
        actor=options.actor,
        clock=options.clock or (lambda: now),
        allow_actions=options.allow_actions,
        protected_models=list(options.protected_models),
        incident_id=options.incident_id,
        workspace_path=options.workspace_path,
    )
    try:
        holder = registry.resolve_alias(spec.model, alias).version
        if holder != canary:
            return RollbackOutcome(
                REFUSED,
                f"{alias} of {spec.model} is v{holder}, not the canary v{canary}: nothing to roll back",
            )
        action = Rollback(env, spec.model, to=run.analysis.baseline_version, alias=alias)
        plan = action.plan()
    except (ActionRefused, RegistryError) as exc:
        return RollbackOutcome(REFUSED, f"rollback not planned: {exc}")
    reason = _reason(run)
    basis = f"the baseline of canary {spec.name} ({spec.baseline})"
    plan.params["basis"] = basis
    plan.lines = [f"chosen by: {basis}" if line.startswith("chosen by:") else line for line in plan.lines]
    plan.params["canary"] = {"name": spec.name, "analysis_id": run.analysis_id, "source": spec.source}
    plan.params["analysis"] = json.loads(to_json(run.analysis.as_dict()))  # NaN as null
    if options.dry_run:
        would = f"{spec.model}: {alias} v{canary} → v{run.analysis.baseline_version}"
        return RollbackOutcome(DRY_RUN, f"dry run: would roll back {would}; nothing changed", plan)
    if store.read_only:
        return RollbackOutcome(REFUSED, f"not applied: the store {store.path} is open read-only", plan)
    try:
        result = action.apply(plan, reason=reason, typed_name=options.typed_name)
    except ActionRefused as exc:
        state = NOT_ALLOWED if not options.allow_actions else REFUSED
        prefix = "actions not allowed" if state == NOT_ALLOWED else "not applied"
        return RollbackOutcome(state, f"{prefix}: {exc}", plan)
    except ActionFailed as exc:
        return RollbackOutcome(FAILED, str(exc), plan)
    message = f"rolled back: {plan.summary}; v{canary} is marked bad"
    return RollbackOutcome(APPLIED, message + _deploy_hook(env, plan, reason, result), plan, result)


def _deploy_hook(env: Any, plan: Plan, reason: str, result: dict[str, Any]) -> str:
    """Run the model's deploy hook after the move, as `oncall rollback` does; what to add to the message."""
    from console.actions import run_deploy_hook

    hook = run_deploy_hook(env, plan, reason=reason)
    if hook is None:
        return ""
    result["deploy_hook"] = {
        "argv": hook.argv,
        "returncode": hook.returncode,
        "ok": hook.ok,
        "error": hook.error,
    }
    return "; deploy hook ok" if hook.ok else f"; deploy hook FAILED: {hook.error}"
