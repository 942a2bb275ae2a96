"""Action kinds: what an action step may change (rollback, promote, silence), planned before it runs."""

from __future__ import annotations

from typing import Any

from console.config.durations import parse_duration
from console.playbooks.context import ActionUnavailable, PlannedAction, RunContext

ACTION_KINDS: dict[str, Any] = {}


def register_action_kind(name: str, planner: Any) -> None:
    """Add an action kind: `planner(ctx, args, incident_id) -> PlannedAction`."""
    ACTION_KINDS[name] = planner


def _registry_planner(kind: str) -> Any:
    def planner(ctx: RunContext, args: dict[str, str], incident_id: int | None) -> PlannedAction:
        from console import actions
        from console.registry import open_registry, pick_registry

        if "model" not in args:
            raise ActionUnavailable(f"{kind} needs `args.model`")
        registry, protected, where = ctx.registry, list(ctx.protected_models), "oncall.yaml"
        if ctx.workspace is not None:
            where = str(ctx.workspace.path)
            if registry is None:
                config = pick_registry(ctx.workspace, args.get("registry"))
                registry = open_registry(config, store=ctx.store, clock=ctx.clock, workspace=ctx.workspace)
                protected += config.protected_models
        if registry is None:
            raise ActionUnavailable(f"{kind}: no model registry configured in the workspace")
        env = actions.ActionEnv(
            store=ctx.store,
            registry=registry,
            actor=ctx.actor,
            clock=ctx.clock,
            allow_actions=ctx.allows_actions(),
            protected_models=protected,
            incident_id=incident_id,
            workspace_path=where,
        )
        if kind == "rollback":
            action = actions.Rollback(
                env, args["model"], to=args.get("to") or None, alias=args.get("alias") or None
            )
        else:
            if not args.get("version"):
                raise ActionUnavailable("promote needs `args.version`")
            action = actions.Promote(env, args["model"], args["version"], alias=args.get("alias") or None)  # type: ignore[assignment]  # untyped row or union left for the drift/incidents/playbooks pass
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


def _silence_planner(ctx: RunContext, args: dict[str, str], incident_id: int | None) -> PlannedAction:
    from console.alerts.silences import create_silence
    from console.rules.matchers import Matcher

    matchers = [
        Matcher(k.removeprefix("match."), v) for k, v in sorted(args.items()) if k.startswith("match.")
    ]
    if not matchers:
        raise ActionUnavailable("silence needs at least one `args.match.<label>`")
    try:
        duration = parse_duration(args.get("for", "1h"))
    except ValueError as exc:
        raise ActionUnavailable(f"silence: bad `for`: {exc}") from None
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


register_action_kind("rollback", _registry_planner("rollback"))
register_action_kind("promote", _registry_planner("promote"))
register_action_kind("silence", _silence_planner)
