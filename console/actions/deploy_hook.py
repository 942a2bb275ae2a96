"""The deploy hook: an argv list rendered one argument at a time in a sandbox, run without a shell."""

from __future__ import annotations

import subprocess
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from jinja2 import StrictUndefined, TemplateError
from jinja2.sandbox import SandboxedEnvironment

from console.actions.base import ActionEnv, ActionRefused, Plan, append_timeline
from console.core.private import child_umask
from console.store.audit import write_audit

OUTPUT_LIMIT = 20_000


@dataclass
class HookResult:
    """What the deploy hook did: the argv it ran and what came back."""

    argv: list[str]
    returncode: int | None
    stdout: str = ""
    stderr: str = ""
    error: str | None = None

    @property
    def ok(self) -> bool:
        return self.error is None and self.returncode == 0


def render_argv(template: list[str], variables: dict[str, Any]) -> list[str]:
    """Render each argv element on its own in a sandbox: one template, exactly one argument."""
    env = SandboxedEnvironment(undefined=StrictUndefined, autoescape=False)
    argv = []
    for index, item in enumerate(template):
        try:
            argv.append(env.from_string(item).render(**variables))
        except TemplateError as exc:
            raise ActionRefused(f"deploy_hook[{index}] {item!r}: {exc}") from None
    if not argv or not argv[0]:
        raise ActionRefused("deploy_hook: the first argument (the program) is empty")
    return argv


def run_deploy_hook(
    env: ActionEnv, plan: Plan, *, reason: str, timeout: timedelta | None = None
) -> HookResult | None:
    """Run the model's deploy hook after an alias move, with the output in the audit log."""
    policy = env.registry.policy(plan.model)
    if not policy.deploy_hook:
        return None
    try:
        argv = render_argv(policy.deploy_hook, _hook_variables(env, plan, reason))
    except ActionRefused as exc:
        result = HookResult(list(policy.deploy_hook), None, error=str(exc))
    else:
        _audit_start(env, plan.target, reason, argv)
        result = _run(argv, timeout or policy.hook_timeout)
    _record_outcome(env, plan.target, reason, result)
    return result


def _hook_variables(env: ActionEnv, plan: Plan, reason: str) -> dict[str, Any]:
    """What a hook's argv template may name: the move, who made it and why, the new version's facts."""
    to = plan.params.get("to") or {}
    return {
        "model": plan.model,
        "alias": plan.params.get("alias"),
        "version": plan.params.get("to_version"),
        "from_version": plan.params.get("from_version"),
        "registry": plan.params.get("registry"),
        "action": plan.action,
        "reason": reason,
        "actor": env.actor,
        "tags": to.get("tags") or {},
        "source": to.get("source"),
        "run_id": to.get("run_id"),
    }


def _audit_start(env: ActionEnv, target: str, reason: str, argv: list[str]) -> None:
    env.audit("deploy-hook", "before", target, reason, {"argv": argv}, None)


def _run(argv: list[str], timeout: timedelta) -> HookResult:
    """Run the rendered argv without a shell; a timeout or a missing program is a failed result."""
    try:
        done = subprocess.run(
            argv,
            capture_output=True,
            text=True,
            errors="replace",
            stdin=subprocess.DEVNULL,
            timeout=timeout.total_seconds(),
            shell=False,
            umask=child_umask(),
        )  # the user's, not 077
    except subprocess.TimeoutExpired as exc:
        return HookResult(
            argv,
            None,
            _text(exc.stdout),
            _text(exc.stderr),
            f"timed out after {timeout.total_seconds():g}s",
        )
    except OSError as exc:
        return HookResult(argv, None, error=f"could not start {argv[0]!r}: {exc.strerror}")
    return HookResult(
        argv,
        done.returncode,
        done.stdout[-OUTPUT_LIMIT:],
        done.stderr[-OUTPUT_LIMIT:],
        None if done.returncode == 0 else f"exited {done.returncode}",
    )


def _record_outcome(env: ActionEnv, target: str, reason: str, result: HookResult) -> None:
    outcome = {
        "ok": result.ok,
        "returncode": result.returncode,
        "stdout": result.stdout,
        "stderr": result.stderr,
        "error": result.error,
    }
    with env.store.shared.transaction() as cur:  # the audit row and the timeline entry together
        write_audit(
            cur,
            ts=env.clock(),
            actor=env.actor,
            action="deploy-hook",
            phase="after" if result.ok else "failed",
            target=target,
            reason=reason,
            params={"argv": result.argv},
            result=outcome,
        )
        append_timeline(
            cur,
            env.incident_id,
            env.clock(),
            "deploy-hook",
            env.actor,
            f"deploy hook {'ran' if result.ok else 'failed: ' + str(result.error)}",
            {"argv": result.argv, "returncode": result.returncode},
        )


def _text(data: Any) -> str:
    if data is None:
        return ""
    return (data.decode(errors="replace") if isinstance(data, bytes) else data)[-OUTPUT_LIMIT:]
