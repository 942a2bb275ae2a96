"""The model actions: roll the serving alias back, promote a version, set a tag."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from console.actions.base import Action, ActionEnv, ActionRefused, Plan
from console.registry.base import ModelVersion, RegistryError, version_key
from console.registry.history import previous_holder
from console.registry.marks import Mark, clear_mark, mark_bad, marks, named, refusal


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


def _mark_target(params: dict[str, Any], lines: list[str], mark: Mark | None) -> None:
    """A marked target: its mark goes in the plan's params (apply then needs force) and lines."""
    if mark is not None:
        params["marked"] = mark.as_dict()
        lines.insert(0, mark.text())


def _clear_target_mark(
    cur: Any, plan: Plan, actor: str, reason: str, now: datetime, result: dict[str, Any]
) -> None:
    """A marked version chosen deliberately (with force) serves again: its mark no longer stands."""
    marked = plan.params.get("marked")
    if marked:
        clear_mark(cur, ts=now, model=plan.model, version=marked["version"], actor=actor, reason=reason)
        result["cleared_mark"] = marked


def _by_number_basis(standing: dict[str, Mark]) -> str:
    if not standing:
        return "no recorded alias history: the version before by number"
    return f"the version before by number, skipping marked {named(standing)}"


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
        standing = marks(self.env.store, self.model)
        if self.to is not None:
            target, basis = self.registry.get_version(self.model, self.to), "named (--to)"
        else:
            target, basis = self._previous(current, standing)
        if target.version == current.version:
            raise ActionRefused(f"{self.alias} of {self.model} is already v{current.version}")
        now = self.env.clock()
        params = self._alias_params(self.alias, current, target, basis)
        lines = [
            _version_line("from", current, now),
            _version_line("to", target, now),
            f"chosen by: {basis}",
            f"registry: {self.registry.where}",
        ]
        lines += [f"not proposed: {m.text()}" for v, m in standing.items() if v != target.version]
        _mark_target(params, lines, standing.get(target.version))
        return Plan(
            "rollback",
            self.model,
            f"rollback {self.model}: {self.alias} v{current.version} → v{target.version}",
            params,
            lines,
            protected=self.model in self.env.protected_models,
        )

    def _previous(self, current: ModelVersion, standing: dict[str, Mark]) -> tuple[ModelVersion, str]:
        """The holder before by the alias history, else by version number; never a marked version."""
        skip = frozenset(standing)
        version, basis = previous_holder(self.env.store, self.model, self.alias, current.version, skip)
        if version is not None:
            try:
                return self.registry.get_version(self.model, version), basis
            except RegistryError:
                pass  # the recorded holder is gone; fall back to version order
        return self._by_number(current, standing)

    def _by_number(self, current: ModelVersion, standing: dict[str, Mark]) -> tuple[ModelVersion, str]:
        """No usable alias history: the unmarked version before the current one by number."""
        before = [
            v
            for v in self.registry.list_versions(self.model)
            if version_key(v.version) < version_key(current.version)
        ]
        earlier = [v for v in before if v.version not in standing]
        if earlier:
            return earlier[-1], _by_number_basis(standing)
        if before or set(standing) - {current.version}:  # what history or order offered is marked
            raise ActionRefused(refusal(self.model, standing))
        raise ActionRefused(
            f"{self.model} has no version before v{current.version} and no "
            f"recorded alias history; name one with --to VERSION"
        )

    def perform(self, plan: Plan) -> dict[str, Any]:
        return self._move(plan)

    def record(self, cur: Any, plan: Plan, *, reason: str, now: datetime) -> dict[str, Any]:
        """The move, and the version rolled away from marked bad (the same transaction)."""
        result = super().record(cur, plan, reason=reason, now=now)
        _clear_target_mark(cur, plan, self.env.actor, reason, now, result)
        if plan.params["from_version"] is not None:
            mark_bad(
                cur,
                ts=now,
                model=plan.model,
                version=plan.params["from_version"],
                registry=plan.params["registry"],
                incident_id=self.env.incident_id,
                reason=reason,
                actor=self.env.actor,
            )
        return result


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
        params = self._alias_params(self.alias, current, target, "named")
        lines = [
            _version_line("from", current, now),
            _version_line("to", target, now),
            f"registry: {self.registry.where}",
        ]
        _mark_target(params, lines, marks(self.env.store, self.model).get(target.version))
        return Plan(
            "promote",
            self.model,
            f"promote {self.model}: {self.alias} {was} → v{target.version}",
            params,
            lines,
            protected=self.model in self.env.protected_models,
        )

    def perform(self, plan: Plan) -> dict[str, Any]:
        return self._move(plan)

    def record(self, cur: Any, plan: Plan, *, reason: str, now: datetime) -> dict[str, Any]:
        """The move; a deliberate (forced) promote of a marked version clears its mark, audited."""
        result = super().record(cur, plan, reason=reason, now=now)
        _clear_target_mark(cur, plan, self.env.actor, reason, now, result)
        return result


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
