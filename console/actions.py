"""Actions that change the world: `plan()` says exactly what will change, `apply()` does it, audited.

Every apply writes an audit row before it acts and one after (or a `failed` row), with
actor, reason, resolved parameters and result; alias moves land in `changes` only when
they happened.  Nothing runs unless the workspace allows actions; protected models also
need their name typed.  Deploy hooks are argv lists rendered one argument at a time in a
sandbox and run without a shell.
"""

from __future__ import annotations

import json
import subprocess
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, ClassVar

from jinja2 import StrictUndefined, TemplateError
from jinja2.sandbox import SandboxedEnvironment

from console.core.private import child_umask
from console.registry.base import Clock, ModelVersion, Registry, RegistryError, version_key
from console.registry.history import previous_holder, record_alias_move
from console.store.audit import audit_denied, write_audit, write_denied  # noqa: F401 - re-exported

OUTPUT_LIMIT = 20_000


class ActionRefused(Exception):
    """The action may not run as asked; nothing was changed."""


class ActionFailed(Exception):
    """The action started and failed; the audit log says how."""


@dataclass
class ActionEnv:
    """What an action runs against and on whose behalf."""

    store: Any
    registry: Registry
    actor: str
    clock: Clock
    allow_actions: bool = False
    protected_models: list[str] = field(default_factory=list)
    incident_id: int | None = None
    workspace_path: str = "oncall.yaml"


@dataclass
class Plan:
    """What an action will do: shown before it runs, written into the audit log."""

    action: str
    model: str
    summary: str
    params: dict[str, Any]
    lines: list[str] = field(default_factory=list)
    protected: bool = False

    @property
    def target(self) -> str:
        return f"{self.params.get('registry')}:{self.model}"

    def text(self) -> str:
        return "\n".join([self.summary, *("  " + line for line in self.lines)])


def _age(created: datetime | None, now: datetime) -> str:
    if created is None:
        return "age unknown"
    seconds = max(0, int((now - created).total_seconds()))
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size:
            return f"{seconds // size}{unit} old"
    return f"{seconds}s old"


def _version_line(label: str, mv: ModelVersion | None, now: datetime) -> str:
    if mv is None:
        return f"{label}: (none)"
    metrics = ", ".join(f"{k}={v:.4g}" for k, v in sorted(mv.metrics.items())[:4]) or "no metrics"
    return f"{label}: v{mv.version}, {_age(mv.created_at, now)}, {metrics}" + (
        f", source {mv.source}" if mv.source else ""
    )


def _describe(mv: ModelVersion | None) -> dict[str, Any] | None:
    if mv is None:
        return None
    return {
        "version": mv.version,
        "created_at": mv.created_at,
        "source": mv.source,
        "run_id": mv.run_id,
        "metrics": mv.metrics,
        "tags": mv.tags,
    }


def _timeline(
    cur: Any, incident_id: int | None, ts: datetime, kind: str, actor: str | None, text: str, detail: Any
) -> None:
    if incident_id is None:
        return
    cur.execute(
        "INSERT INTO timeline VALUES (nextval('timeline_id_seq'), ?, ?, ?, ?, ?, ?)",
        [incident_id, ts, kind, actor, text, json.dumps(detail, default=str)],
    )


class Action:
    """A change to the world: plan it, show the plan, apply it with a reason."""

    name: ClassVar[str] = ""
    moves_alias: ClassVar[bool] = False

    def __init__(self, env: ActionEnv, model: str) -> None:
        self.env = env
        self.model = model

    @property
    def registry(self) -> Registry:
        return self.env.registry

    def plan(self) -> Plan:  # pragma: no cover - every action defines it
        raise NotImplementedError

    def perform(self, plan: Plan) -> dict[str, Any]:  # pragma: no cover
        raise NotImplementedError

    def check_allowed(self, plan: Plan, *, reason: str, typed_name: str | None) -> None:
        """Refuse before anything happens: read-only workspace, no reason, protected model."""
        if not self.env.allow_actions:
            raise ActionRefused(
                f"{self.env.workspace_path}: the workspace is read-only; set "
                f"`allow_actions: true` there to {self.name} models"
            )
        if not reason or not reason.strip():
            raise ActionRefused(f"{self.name} needs a reason (--reason TEXT); it goes in the audit log")
        if plan.protected and typed_name != plan.model:
            raise ActionRefused(
                f"model {plan.model!r} is protected: type its name to confirm (--confirm {plan.model})"
            )

    def authorize(self, plan: Plan, *, reason: str, typed_name: str | None) -> None:
        """`check_allowed`, with a refusal audited as `denied` (when the store can be written)."""
        try:
            self.check_allowed(plan, reason=reason, typed_name=typed_name)
        except ActionRefused as exc:
            recorded = audit_denied(
                self.env.store,
                ts=self.env.clock(),
                actor=self.env.actor,
                action=self.name,
                target=plan.target,
                why=str(exc),
                reason=reason or None,
                params=plan.params,
            )
            if not recorded:
                raise ActionRefused(f"{exc} (not audited: the store is read-only here)") from None
            raise

    def apply(self, plan: Plan, *, reason: str, typed_name: str | None = None) -> dict[str, Any]:
        """Do the planned change: audit before, act, record and audit after (or `failed`)."""
        self.authorize(plan, reason=reason, typed_name=typed_name)
        env = self.env
        with env.store.transaction() as cur:
            write_audit(
                cur,
                ts=env.clock(),
                actor=env.actor,
                action=self.name,
                phase="before",
                target=plan.target,
                reason=reason,
                params=plan.params,
                result=None,
            )
        try:
            result = self.perform(plan)
        except (RegistryError, ActionRefused) as exc:
            with env.store.transaction() as cur:
                write_audit(
                    cur,
                    ts=env.clock(),
                    actor=env.actor,
                    action=self.name,
                    phase="failed",
                    target=plan.target,
                    reason=reason,
                    params=plan.params,
                    result={"ok": False, "error": str(exc)},
                )
            raise ActionFailed(f"{self.name} failed, nothing recorded as changed: {exc}") from None
        now = env.clock()
        with env.store.transaction() as cur:
            if self.moves_alias:
                record_alias_move(
                    cur,
                    ts=now,
                    model=plan.model,
                    alias=plan.params["alias"],
                    from_version=plan.params["from_version"],
                    to_version=plan.params["to_version"],
                    actor=env.actor,
                    source=f"oncall:{self.name}",
                    reason=reason,
                    action=self.name,
                    registry=plan.params["registry"],
                )
            write_audit(
                cur,
                ts=now,
                actor=env.actor,
                action=self.name,
                phase="after",
                target=plan.target,
                reason=reason,
                params=plan.params,
                result={"ok": True, **result},
            )
            _timeline(
                cur,
                env.incident_id,
                now,
                "action",
                env.actor,
                f"{plan.summary} — {reason}",
                {"action": self.name, **plan.params},
            )
        return result

    def _alias_moved_since(self, plan: Plan) -> None:
        """Refuse when the alias moved between plan and apply (someone else acted)."""
        alias = plan.params["alias"]
        try:
            now_version = self.registry.resolve_alias(plan.model, alias).version
        except RegistryError:
            if plan.params["from_version"] is None:
                return
            raise
        if now_version != plan.params["from_version"]:
            raise ActionRefused(
                f"{alias} of {plan.model} moved to v{now_version} since the plan "
                f"(v{plan.params['from_version']}); plan again"
            )

    def _move(self, plan: Plan) -> dict[str, Any]:
        self._alias_moved_since(plan)
        alias, to_version = plan.params["alias"], plan.params["to_version"]
        self.registry.set_alias(plan.model, alias, to_version)
        observed = self.registry.resolve_alias(plan.model, alias).version
        if observed != to_version:
            raise RegistryError(
                f"{self.registry.where}: set {alias} to v{to_version} but it reports v{observed}"
            )
        return {"observed_version": observed}

    def _alias_params(
        self, alias: str, current: ModelVersion | None, target: ModelVersion, basis: str
    ) -> dict[str, Any]:
        return {
            "registry": self.registry.name,
            "registry_kind": self.registry.kind,
            "model": self.model,
            "alias": alias,
            "from_version": current.version if current else None,
            "to_version": target.version,
            "basis": basis,
            "from": _describe(current),
            "to": _describe(target),
        }

    def _current(self, alias: str) -> ModelVersion | None:
        try:
            return self.registry.resolve_alias(self.model, alias)
        except RegistryError:
            self.registry.get_model(self.model)  # a missing model is the clearer error
            return None


class Rollback(Action):
    """Point the serving alias back at the version that held it before, or a named one."""

    name = "rollback"
    moves_alias = True

    def __init__(
        self, env: ActionEnv, model: str, *, to: str | None = None, alias: str | None = None
    ) -> None:
        super().__init__(env, model)
        self.to = to
        self.alias = alias or env.registry.options.serving_alias

    def plan(self) -> Plan:
        current = self._current(self.alias)
        if current is None:
            raise ActionRefused(
                f"{self.model} has no {self.alias!r} alias to roll back; "
                f"use `oncall promote {self.model} VERSION`"
            )
        if self.to is not None:
            target, basis = self.registry.get_version(self.model, self.to), "named (--to)"
        else:
            target, basis = self._previous(current)
        if target.version == current.version:
            raise ActionRefused(f"{self.alias} of {self.model} is already v{current.version}")
        now = self.env.clock()
        params = self._alias_params(self.alias, current, target, basis)
        return Plan(
            "rollback",
            self.model,
            f"rollback {self.model}: {self.alias} v{current.version} → v{target.version}",
            params,
            [
                _version_line("from", current, now),
                _version_line("to", target, now),
                f"chosen by: {basis}",
                f"registry: {self.registry.where}",
            ],
            protected=self.model in self.env.protected_models,
        )

    def _previous(self, current: ModelVersion) -> tuple[ModelVersion, str]:
        version, basis = previous_holder(self.env.store, self.model, self.alias, current.version)
        if version is not None:
            try:
                return self.registry.get_version(self.model, version), basis
            except RegistryError:
                pass  # the recorded holder is gone; fall back to version order
        earlier = [
            v
            for v in self.registry.list_versions(self.model)
            if version_key(v.version) < version_key(current.version)
        ]
        if not earlier:
            raise ActionRefused(
                f"{self.model} has no version before v{current.version} and no "
                f"recorded alias history; name one with --to VERSION"
            )
        return earlier[-1], "no recorded alias history: the version before by number"

    def perform(self, plan: Plan) -> dict[str, Any]:
        return self._move(plan)


class Promote(Action):
    """Point an alias (the serving one by default) at a named version."""

    name = "promote"
    moves_alias = True

    def __init__(self, env: ActionEnv, model: str, version: str, *, alias: str | None = None) -> None:
        super().__init__(env, model)
        self.version = str(version)
        self.alias = alias or env.registry.options.serving_alias

    def plan(self) -> Plan:
        target = self.registry.get_version(self.model, self.version)
        current = self._current(self.alias)
        if current is not None and current.version == target.version:
            raise ActionRefused(f"{self.alias} of {self.model} is already v{target.version}")
        now = self.env.clock()
        was = f"v{current.version}" if current else "(unset)"
        return Plan(
            "promote",
            self.model,
            f"promote {self.model}: {self.alias} {was} → v{target.version}",
            self._alias_params(self.alias, current, target, "named"),
            [
                _version_line("from", current, now),
                _version_line("to", target, now),
                f"registry: {self.registry.where}",
            ],
            protected=self.model in self.env.protected_models,
        )

    def perform(self, plan: Plan) -> dict[str, Any]:
        return self._move(plan)


class SetTag(Action):
    """Set one tag on one version."""

    name = "set-tag"

    def __init__(self, env: ActionEnv, model: str, version: str, key: str, value: str) -> None:
        super().__init__(env, model)
        self.version, self.key, self.value = str(version), key, str(value)

    def plan(self) -> Plan:
        mv = self.registry.get_version(self.model, self.version)
        old = mv.tags.get(self.key)
        params = {
            "registry": self.registry.name,
            "registry_kind": self.registry.kind,
            "model": self.model,
            "version": mv.version,
            "key": self.key,
            "old_value": old,
            "value": self.value,
        }
        return Plan(
            "set-tag",
            self.model,
            f"set-tag {self.model} v{mv.version}: {self.key} {old!r} → {self.value!r}",
            params,
            [f"registry: {self.registry.where}"],
            protected=self.model in self.env.protected_models,
        )

    def perform(self, plan: Plan) -> dict[str, Any]:
        self.registry.set_tag(plan.model, plan.params["version"], plan.params["key"], plan.params["value"])
        return {}


# -- deploy hook ---------------------------------------------------------------------------


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
    timeout = timeout or policy.hook_timeout
    to = plan.params.get("to") or {}
    variables = {
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
    target = plan.target
    try:
        argv = render_argv(policy.deploy_hook, variables)
    except ActionRefused as exc:
        result = HookResult(list(policy.deploy_hook), None, error=str(exc))
    else:
        with env.store.transaction() as cur:
            write_audit(
                cur,
                ts=env.clock(),
                actor=env.actor,
                action="deploy-hook",
                phase="before",
                target=target,
                reason=reason,
                params={"argv": argv},
                result=None,
            )
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
            result = HookResult(
                argv,
                done.returncode,
                done.stdout[-OUTPUT_LIMIT:],
                done.stderr[-OUTPUT_LIMIT:],
                None if done.returncode == 0 else f"exited {done.returncode}",
            )
        except subprocess.TimeoutExpired as exc:
            result = HookResult(
                argv,
                None,
                _text(exc.stdout),
                _text(exc.stderr),
                f"timed out after {timeout.total_seconds():g}s",
            )
        except OSError as exc:
            result = HookResult(argv, None, error=f"could not start {argv[0]!r}: {exc.strerror}")
    with env.store.transaction() as cur:
        write_audit(
            cur,
            ts=env.clock(),
            actor=env.actor,
            action="deploy-hook",
            phase="after" if result.ok else "failed",
            target=target,
            reason=reason,
            params={"argv": result.argv},
            result={
                "ok": result.ok,
                "returncode": result.returncode,
                "stdout": result.stdout,
                "stderr": result.stderr,
                "error": result.error,
            },
        )
        _timeline(
            cur,
            env.incident_id,
            env.clock(),
            "deploy-hook",
            env.actor,
            f"deploy hook {'ran' if result.ok else 'failed: ' + str(result.error)}",
            {"argv": result.argv, "returncode": result.returncode},
        )
    return result


def _text(data: Any) -> str:
    if data is None:
        return ""
    return (data.decode(errors="replace") if isinstance(data, bytes) else data)[-OUTPUT_LIMIT:]
