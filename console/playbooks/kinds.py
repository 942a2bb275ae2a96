"""Action kinds: what an action step may change (rollback, promote, silence), planned before it runs."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from console.config.durations import parse_duration
from console.playbooks.context import ActionUnavailable, PlannedAction, RunContext

if TYPE_CHECKING:
    from console.actions import Action, ActionEnv
    from console.rules.matchers import Matcher

# (ctx, rendered args, incident id) -> what the step will change
Planner = Callable[[RunContext, dict[str, str], int | None], PlannedAction]
ACTION_KINDS: dict[str, Planner] = {}


def register_action_kind(name: str, planner: Planner) -> None:
    """Add an action kind: `planner(ctx, args, incident_id) -> PlannedAction`."""
    ACTION_KINDS[name] = planner


def planner_for(action: str | None) -> Planner:
    """The planner of an action kind; ActionUnavailable, naming the known kinds, if there is none."""
    planner = ACTION_KINDS.get(action or "")
    if planner is None:
        raise ActionUnavailable(
            f"action {action!r} is not available; known: {', '.join(sorted(ACTION_KINDS))}"
        )
    return planner


def _registry_planner(kind: str) -> Planner:
    def planner(ctx: RunContext, args: dict[str, str], incident_id: int | None) -> PlannedAction:
        from console import actions

        if "model" not in args:
            raise ActionUnavailable(f"{kind} needs `args.model`")
        action = _registry_action(kind, _action_env(ctx, kind, args, incident_id), args)
        try:
            plan = action.plan()
        except (actions.ActionRefused, actions.RegistryError) as exc:
            raise ActionUnavailable(str(exc)) from None

        def apply(reason: str, typed_name: str | None) -> dict[str, Any]:
            try:
                return action.apply(plan, reason=reason, typed_name=typed_name)
            except (actions.ActionRefused, actions.ActionFailed) as exc:
                raise ActionUnavailable(str(exc)) from None

        return PlannedAction(kind, plan.text(), plan.params, apply, plan.protected, plan.model)

    return planner


def _action_env(ctx: RunContext, kind: str, args: dict[str, str], incident_id: int | None) -> ActionEnv:
    """The registry to act on (the context's, else the workspace's) and its protections."""
    from console import actions
    from console.registry import open_registry, pick_registry

    registry, protected, where = ctx.registry, list(ctx.protected_models), "oncall.yaml"
    if ctx.workspace is not None:
        where = str(ctx.workspace.path)
        if registry is None:
            config = pick_registry(ctx.workspace, args.get("registry"))
            registry = open_registry(config, store=ctx.store, clock=ctx.clock, workspace=ctx.workspace)
            protected += config.protected_models
    if registry is None:
        raise ActionUnavailable(f"{kind}: no model registry configured in the workspace")
    return actions.ActionEnv(
        store=ctx.store,
        registry=registry,
        actor=ctx.actor,
        clock=ctx.clock,
        allow_actions=ctx.allows_actions(),
        protected_models=protected,
        incident_id=incident_id,
        workspace_path=where,
    )


def _registry_action(kind: str, env: ActionEnv, args: dict[str, str]) -> Action:
    from console import actions

    alias = args.get("alias") or None
    if kind == "rollback":
        return actions.Rollback(env, args["model"], to=args.get("to") or None, alias=alias)
    if not args.get("version"):
        raise ActionUnavailable("promote needs `args.version`")
    return actions.Promote(env, args["model"], args["version"], alias=alias)


def _silence_planner(ctx: RunContext, args: dict[str, str], incident_id: int | None) -> PlannedAction:
    from console.alerts.silences import create_silence

    matchers = _silence_matchers(args)
    duration = _silence_duration(args)
    starts = ctx.clock()
    ends = starts + duration
    text = (
        f"silence {', '.join(str(m) for m in matchers)} from {starts:%Y-%m-%d %H:%M} "
        f"until {ends:%Y-%m-%d %H:%M} UTC"
    )

    def apply(reason: str, typed_name: str | None) -> dict[str, Any]:
        if not ctx.allows_actions():
            raise ActionUnavailable("the workspace is read-only; set `allow_actions: true` to silence")
        silence = create_silence(
            ctx.store, matchers, starts, ends, created_by=ctx.actor, comment=reason, now=starts
        )
        return {"silence_id": silence.id}

    return PlannedAction(
        "silence", text, {"matchers": [str(m) for m in matchers], "starts_at": starts, "ends_at": ends}, apply
    )


def _silence_matchers(args: dict[str, str]) -> list[Matcher]:
    """`args.match.<label>: value` as matchers; at least one."""
    from console.rules.matchers import Matcher

    matchers = [
        Matcher(k.removeprefix("match."), v) for k, v in sorted(args.items()) if k.startswith("match.")
    ]
    if not matchers:
        raise ActionUnavailable("silence needs at least one `args.match.<label>`")
    return matchers


def _silence_duration(args: dict[str, str]) -> timedelta:
    try:
        return parse_duration(args.get("for", "1h"))
    except ValueError as exc:
        raise ActionUnavailable(f"silence: bad `for`: {exc}") from None


register_action_kind("rollback", _registry_planner("rollback"))
register_action_kind("promote", _registry_planner("promote"))
register_action_kind("silence", _silence_planner)
