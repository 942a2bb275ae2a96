"""The model actions: roll the serving alias back, promote a version, set a tag."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from console.actions.base import Action, ActionEnv, ActionRefused, Plan
from console.registry.base import ModelVersion, RegistryError, version_key
from console.registry.history import previous_holder


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
