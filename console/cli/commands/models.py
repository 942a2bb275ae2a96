"""`oncall models`, `oncall rollback`, `oncall promote`: the model registry and its audited actions."""

from __future__ import annotations

import argparse
import sys
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from console.cli.commands import marks as marks_command
from console.cli.context import CliError, Context, add_format
from console.core.output import dumps, render
from console.core.terminal import escape

if TYPE_CHECKING:
    from console.actions import ActionEnv
    from console.config.workspace import RegistryConfig
    from console.registry import Registry
    from console.store import Store


def register(sub: argparse._SubParsersAction) -> None:
    models = sub.add_parser(
        "models",
        help="models in the registry: aliases, versions, changes",
        description="List the registry's models with their aliases, version count and last alias change.",
    )
    _registry_arg(models)
    add_format(models)
    models.set_defaults(func=run_models)
    inner = models.add_subparsers(title="subcommands", metavar="SUBCOMMAND")
    history = inner.add_parser(
        "history",
        help="every recorded alias move of a model",
        description="Alias moves recorded by oncall's actions and by the "
        "registry collector, oldest first. With --at, who "
        "held the alias at that time and since when.",
    )
    history.add_argument("model")
    history.add_argument("--alias", help="only this alias (default: all; --at uses the serving alias)")
    history.add_argument("--at", help="ISO time (UTC): who held the alias then")
    _registry_arg(history)
    add_format(history)
    history.set_defaults(func=run_history)
    versions = inner.add_parser("versions", help="a model's versions with age, aliases, metrics")
    versions.add_argument("model")
    _registry_arg(versions)
    add_format(versions)
    versions.set_defaults(func=run_versions)
    marks_command.register_unmark(inner)

    rollback = sub.add_parser(
        "rollback",
        help="point the serving alias back at the previous version",
        description="Point the serving alias (default champion) back at the version that held it "
        "before, or at --to VERSION. Prints the plan; --dry-run stops there. Needs "
        "`allow_actions: true`; protected models need --confirm MODEL.",
    )
    rollback.add_argument("model")
    rollback.add_argument("--to", metavar="VERSION", help="roll back to this version")
    _action_args(rollback)
    rollback.set_defaults(func=run_rollback)

    promote = sub.add_parser(
        "promote",
        help="point the serving alias at a version",
        description="Point the serving alias (or --alias) at VERSION.",
    )
    promote.add_argument("model")
    promote.add_argument("version")
    _action_args(promote)
    promote.set_defaults(func=run_promote)


def _registry_arg(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--registry", help="registry name (default: the first in oncall.yaml)")


def _action_args(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--reason", default="", help="why (required to apply; audited)")
    parser.add_argument("--alias", help="alias to move (default: the registry's serving_alias)")
    parser.add_argument("--dry-run", action="store_true", help="print the plan, change nothing")
    parser.add_argument("--yes", action="store_true", help="apply without asking")
    parser.add_argument("--confirm", metavar="MODEL", help="the model's name, for protected models")
    parser.add_argument(
        "--actor",
        help="on whose behalf (default: $ONCALL_ACTOR); the audit log "
        "records your OS account as the actor either way",
    )
    parser.add_argument(
        "--incident", type=int, help="incident id for the timeline (default: the newest open incident)"
    )
    parser.add_argument("--no-watch", action="store_true", help="skip the post-rollback watch")
    parser.add_argument(
        "--force",
        action="store_true",
        help="go ahead although the version is marked bad (rolled away from before); "
        "a forced rollback or promote to it clears the mark (`oncall models unmark` lifts one by hand)",
    )
    _registry_arg(parser)
    add_format(parser)


# -- opening ------------------------------------------------------------------------------


def _open(ctx: Context, store: Store) -> tuple[RegistryConfig, Registry]:
    from console.registry import RegistryError, open_registry, pick_registry

    try:
        config = pick_registry(ctx.workspace, getattr(ctx.args, "registry", None))
        return config, open_registry(config, store=store, clock=ctx.now, workspace=ctx.workspace)
    except RegistryError as exc:
        raise CliError(str(exc)) from None


def _registry_call(fn: Any, *args: Any, **kwargs: Any) -> Any:
    from console.registry import RegistryError

    try:
        return fn(*args, **kwargs)
    except RegistryError as exc:
        raise CliError(str(exc), 1) from None


# -- read commands --------------------------------------------------------------------------


def run_models(ctx: Context) -> int:
    store = ctx.read_store()
    _, registry = _open(ctx, store)
    try:
        models = _registry_call(registry.list_models)
        rows = []
        for model in models:
            versions = _registry_call(registry.list_versions, model.name)
            last = store.query(
                "SELECT max(ts) FROM changes WHERE kind = 'alias_move' AND model = ?", [model.name]
            )[1][0][0]
            aliases = ", ".join(f"{a}=v{v}" for a, v in sorted(model.aliases.items()))
            rows.append(
                (
                    model.name,
                    aliases,
                    len(versions),
                    versions[-1].version if versions else None,
                    last or model.updated_at,
                )
            )
    finally:
        registry.close()
    ctx.out(render(["model", "aliases", "versions", "latest", "last_change"], rows, ctx.fmt))
    return 0


def run_history(ctx: Context) -> int:
    from console.registry.history import alias_history, holder_at

    store = ctx.read_store()
    _config, registry = _open(ctx, store)
    registry.close()
    if ctx.args.at:
        try:
            at = datetime.fromisoformat(ctx.args.at.replace("Z", "+00:00"))
        except ValueError:
            raise CliError(f"--at {ctx.args.at!r}: use an ISO time, e.g. 2026-11-26T03:00:00Z") from None
        if at.tzinfo is not None:
            at = at.astimezone(UTC).replace(tzinfo=None)
        alias = ctx.args.alias or registry.options.serving_alias
        version, since = holder_at(store, ctx.args.model, alias, at)
        columns = ["model", "alias", "at", "version", "since"]
        rows: list[tuple[Any, ...]] = [(ctx.args.model, alias, at, version, since)]
    else:
        return _moves(ctx, store, alias_history(store, ctx.args.model, ctx.args.alias)[1])
    ctx.out(render(columns, rows, ctx.fmt))
    return 0


def _moves(ctx: Context, store: Store, moves: list[tuple]) -> int:
    """The moves, each with the mark it left standing (`marked_bad`), then a line a mark."""
    from console.registry.marks import marks

    standing = marks(store, ctx.args.model)

    def left(move: tuple) -> Any:
        mark = standing.get(move[3]) if move[3] is not None else None
        if mark is None or mark.ts != move[0]:
            return None
        return mark.as_dict() if ctx.fmt == "json" else f"v{mark.version}"

    columns = [
        "ts",
        "alias",
        "from_version",
        "to_version",
        "actor",
        "reason",
        "action",
        "source",
        "marked_bad",
    ]
    rows = [(r[0], r[2], r[3], r[4], r[5], r[6], r[7], r[8], left(r)) for r in moves]
    ctx.out(render(columns, rows, ctx.fmt))
    if ctx.fmt == "table":
        for mark in standing.values():
            ctx.out(escape(mark.text()))
    return 0


def run_versions(ctx: Context) -> int:
    store = ctx.read_store()
    _, registry = _open(ctx, store)
    try:
        versions = _registry_call(registry.list_versions, ctx.args.model)
    finally:
        registry.close()
    rows = [
        (
            v.version,
            v.created_at,
            ", ".join(v.aliases),
            ", ".join(f"{k}={m:.4g}" for k, m in sorted(v.metrics.items()))
            if ctx.fmt != "json"
            else v.metrics,
            v.source,
            v.run_id,
        )
        for v in versions
    ]
    ctx.out(render(["version", "created_at", "aliases", "metrics", "source", "run_id"], rows, ctx.fmt))
    return 0


# -- actions ----------------------------------------------------------------------------------


def _open_incident(store: Store) -> int | None:
    rows = store.shared.query(
        "SELECT id FROM incidents WHERE status NOT IN ('resolved', 'closed') ORDER BY created_at DESC LIMIT 1"
    )[1]
    return int(rows[0][0]) if rows else None


def _run_action(ctx: Context, make: Any) -> int:
    # writable unless a dry run: a refused attempt is audited too
    store = ctx.read_store() if ctx.args.dry_run else ctx.write_store()
    config, registry = _open(ctx, store)
    try:
        env = _action_env(ctx, store, registry, config)
        action = make(env)
        plan = _plan(action)
        if ctx.args.dry_run:
            return _dry_run(ctx, plan)
        return _carry_out(ctx, env, action, plan, registry)
    finally:
        registry.close()


def _action_env(ctx: Context, store: Store, registry: Registry, config: RegistryConfig) -> ActionEnv:
    from console.actions import ActionEnv

    incident = ctx.args.incident
    return ActionEnv(
        store=store,
        registry=registry,
        actor=ctx.actor(),
        clock=ctx.now,
        allow_actions=ctx.workspace.allow_actions,
        protected_models=list(config.protected_models),
        incident_id=incident if incident is not None else _open_incident(store),
        workspace_path=str(ctx.workspace.path),
    )


def _plan(action: Any) -> Any:
    from console.actions import ActionRefused

    try:
        return _registry_call(action.plan)
    except ActionRefused as exc:
        raise CliError(str(exc)) from None


def _dry_run(ctx: Context, plan: Any) -> int:
    _show(ctx, plan, {"dry_run": True, "changed": False})
    if ctx.fmt != "json":
        print("dry run: nothing changed")
    return 0


def _carry_out(ctx: Context, env: ActionEnv, action: Any, plan: Any, registry: Registry) -> int:
    """Apply a plan, run the deploy hook, and after a rollback watch the model (unless --no-watch)."""
    as_json = ctx.fmt == "json"
    if not as_json:
        print(_plan_text(plan))
    outcome: dict[str, Any] = {"applied": True, **_apply(ctx, action, plan)}
    if not as_json:
        print(escape(_done_text(action, plan, registry, outcome)))
    code = _deploy_hook(ctx, env, action, plan, outcome)
    policy = registry.policy(plan.model)
    if action.name == "rollback" and policy.watch and not ctx.args.no_watch:
        env.store.close()
        outcome["watch"] = _watch(ctx, plan, policy.watch, env)
    if as_json:
        _show(ctx, plan, outcome)
    return code


def _apply(ctx: Context, action: Any, plan: Any) -> dict[str, Any]:
    """Authorize (read-only and a missing reason refuse, audited, before any prompt), confirm, apply."""
    from console.actions import ActionFailed, ActionRefused

    reason = ctx.args.reason
    try:
        action.authorize(plan, reason=reason, typed_name=plan.model, force=ctx.args.force)
    except ActionRefused as exc:
        raise CliError(str(exc)) from None
    typed = _confirm(ctx, plan)
    try:
        return action.apply(plan, reason=reason, typed_name=typed, force=ctx.args.force)
    except ActionRefused as exc:
        raise CliError(str(exc)) from None
    except ActionFailed as exc:
        raise CliError(str(exc), 1) from None


def _done_text(action: Any, plan: Any, registry: Registry, result: dict[str, Any]) -> str:
    if action.moves_alias:
        return f"done: {plan.summary} ({registry.where} reports v{result.get('observed_version', '?')})"
    return f"done: {plan.summary}"


def _deploy_hook(ctx: Context, env: ActionEnv, action: Any, plan: Any, outcome: dict[str, Any]) -> int:
    """Run the workspace's deploy hook after an alias moved; 1 when it failed."""
    from console.actions import run_deploy_hook

    if not action.moves_alias:
        return 0
    hook = run_deploy_hook(env, plan, reason=ctx.args.reason)
    if hook is None:
        return 0
    outcome["deploy_hook"] = {
        "argv": hook.argv,
        "returncode": hook.returncode,
        "ok": hook.ok,
        "error": hook.error,
    }
    if ctx.fmt != "json":
        print(escape(f"deploy hook {'ok' if hook.ok else 'FAILED: ' + str(hook.error)}: {hook.argv}"))
    return 0 if hook.ok else 1


def _show(ctx: Context, plan: Any, outcome: dict[str, Any]) -> None:
    if ctx.fmt == "json":
        ctx.out(
            dumps(
                {
                    "plan": {
                        "action": plan.action,
                        "model": plan.model,
                        "summary": plan.summary,
                        "protected": plan.protected,
                        "params": plan.params,
                        "lines": plan.lines,
                    },
                    **outcome,
                }
            )
        )
    else:
        print(_plan_text(plan))


def _plan_text(plan: Any) -> str:
    """The plan as shown before it applies: each line from the registry kept to one line."""
    return "\n".join([escape(plan.summary), *("  " + escape(line) for line in plan.lines)])


def _confirm(ctx: Context, plan: Any) -> str | None:
    """Ask unless --yes; protected models ask for the typed name unless --confirm gave it."""
    args = ctx.args
    typed = args.confirm
    interactive = sys.stdin.isatty()
    if plan.protected and typed is None and interactive:
        typed = input(f"{escape(plan.model)} is protected; type its name to confirm: ").strip()
    if not args.yes:
        if not interactive:
            raise CliError("not applied: pass --yes to apply without a prompt, or --dry-run")
        if input("apply? [y/N] ").strip().lower() not in ("y", "yes"):
            raise CliError("not applied", 1)
    return typed


def _watch(ctx: Context, plan: Any, config: Any, env: Any) -> dict[str, Any]:
    import time

    from console.registry.watch import record_outcome, watch_rollback
    from console.store import Store, StoreError

    started, t0 = ctx.now(), time.monotonic()
    path = ctx.store_path()
    if ctx.fmt != "json":
        print(
            f"watching {escape(plan.model)} for up to {config.duration} (every {config.every}); "
            "Ctrl-C stops watching, the rollback stays"
        )
    status = watch_rollback(
        lambda: Store.open_read(path),
        config,
        model=plan.model,
        started=started,
        clock=lambda: started + timedelta(seconds=time.monotonic() - t0),
        on_status=(lambda s: print("  " + escape(s.text(plan.model)))) if ctx.fmt != "json" else None,
    )
    try:
        with Store.open(path) as store:
            record_outcome(
                store, status, model=plan.model, incident_id=env.incident_id, actor=env.actor, started=started
            )
    except StoreError as exc:
        print(f"oncall: could not record the watch's outcome: {escape(exc)}", file=sys.stderr)
    return {"state": status.state, "error_ratio": status.error_ratio, "burn": status.burn}


def run_rollback(ctx: Context) -> int:
    from console.actions import Rollback

    return _run_action(ctx, lambda env: Rollback(env, ctx.args.model, to=ctx.args.to, alias=ctx.args.alias))


def run_promote(ctx: Context) -> int:
    from console.actions import Promote

    return _run_action(ctx, lambda env: Promote(env, ctx.args.model, ctx.args.version, alias=ctx.args.alias))
