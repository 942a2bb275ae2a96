"""Actions that change the world: `plan()` says exactly what will change, `apply()` does it, audited.

Every apply writes an audit row before it acts and one after (or a `failed` row), with
actor, reason, resolved parameters and result; alias moves land in `changes` only when
they happened.  Nothing runs unless the workspace allows actions; protected models also
need their name typed.  Deploy hooks are argv lists rendered one argument at a time in a
sandbox and run without a shell.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any, ClassVar

from console.registry.base import Clock, ModelVersion, Registry, RegistryError
from console.registry.history import record_alias_move
from console.store.audit import audit_denied, write_audit

if TYPE_CHECKING:
    from console.store import Store


class ActionRefused(Exception):
    """The action may not run as asked; nothing was changed."""


class ActionFailed(Exception):
    """The action started and failed; the audit log says how."""


@dataclass
class ActionEnv:
    """What an action runs against and on whose behalf."""

    store: Store
    registry: Registry
    actor: str
    clock: Clock
    allow_actions: bool = False
    protected_models: list[str] = field(default_factory=list)
    incident_id: int | None = None
    workspace_path: str = "oncall.yaml"

    def audit(self, action: str, phase: str, target: str, reason: str, params: Any, result: Any) -> None:
        """One audit row of this actor, now, in its own transaction."""
        with self.store.shared.transaction() as cur:
            write_audit(
                cur,
                ts=self.clock(),
                actor=self.actor,
                action=action,
                phase=phase,
                target=target,
                reason=reason,
                params=params,
                result=result,
            )


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


def append_timeline(
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

    def check_allowed(self, plan: Plan, *, reason: str, typed_name: str | None, force: bool = False) -> None:
        """Refuse before anything happens: read-only workspace, no reason, protected model, marked bad."""
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
        marked = plan.params.get("marked")
        if marked and not force:
            raise ActionRefused(
                f"v{marked['version']} of {plan.model} is marked bad (rolled away from); "
                f"add --force to {self.name.replace('rollback', 'roll back')} to it anyway"
            )

    def authorize(self, plan: Plan, *, reason: str, typed_name: str | None, force: bool = False) -> None:
        """`check_allowed`, with a refusal audited as `denied` (when the store can be written)."""
        try:
            self.check_allowed(plan, reason=reason, typed_name=typed_name, force=force)
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

    def apply(
        self, plan: Plan, *, reason: str, typed_name: str | None = None, force: bool = False
    ) -> dict[str, Any]:
        """Do the planned change: audit before, act, record and audit after (or `failed`).

        `force` is the extra confirmation a version marked bad needs (the CLI's --force).
        """
        self.authorize(plan, reason=reason, typed_name=typed_name, force=force)
        env = self.env
        env.audit(self.name, "before", plan.target, reason, plan.params, None)
        try:
            result = self.perform(plan)
        except (RegistryError, ActionRefused) as exc:
            failure = {"ok": False, "error": str(exc)}
            env.audit(self.name, "failed", plan.target, reason, plan.params, failure)
            raise ActionFailed(f"{self.name} failed, nothing recorded as changed: {exc}") from None
        now = env.clock()
        with env.store.shared.transaction() as cur:
            result = {**result, **self.record(cur, plan, reason=reason, now=now)}
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
            append_timeline(
                cur,
                env.incident_id,
                now,
                "action",
                env.actor,
                f"{plan.summary} — {reason}",
                {"action": self.name, **plan.params},
            )
        return result

    def record(self, cur: Any, plan: Plan, *, reason: str, now: datetime) -> dict[str, Any]:
        """What the change leaves in the store, in the transaction of its `after` audit row.

        Returns what to add to the audited result.
        """
        if self.moves_alias:
            record_alias_move(  # `changes` is the console's own table
                cur.local,
                ts=now,
                model=plan.model,
                alias=plan.params["alias"],
                from_version=plan.params["from_version"],
                to_version=plan.params["to_version"],
                actor=self.env.actor,
                source=f"oncall:{self.name}",
                reason=reason,
                action=self.name,
                registry=plan.params["registry"],
            )
        return {}

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
