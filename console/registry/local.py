"""The embedded registry: models, versions and aliases kept in the store's own tables."""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from typing import Any

from console.registry.base import (
    Clock,
    ModelVersion,
    RegisteredModel,
    Registry,
    RegistryError,
    RegistryOptions,
    version_key,
)
from console.store import Store


class LocalOptions(RegistryOptions):
    """The local registry needs nothing beyond the shared options."""


class LocalRegistry(Registry):
    """A registry in the DuckDB store: no server, writes need the store open read-write."""

    kind = "local"
    Options = LocalOptions

    def __init__(self, name: str, options: RegistryOptions, *, store: Store, clock: Clock) -> None:
        super().__init__(name, options)
        self.store = store
        self.clock = clock

    # -- reading ----------------------------------------------------------------------

    def _versions(self, model: str | None = None) -> list[ModelVersion]:
        sql = (
            "SELECT model, version, created_at, source, run_id, tags, metrics "
            "FROM registry_versions WHERE registry = ?"
        )
        params: list[Any] = [self.name]
        if model is not None:
            sql += " AND model = ?"
            params.append(model)
        rows = self.store.query(sql, params)[1]
        aliases = self._aliases(model)
        result = []
        for name, version, created, source, run_id, tags, metrics in rows:
            held = sorted(a for a, v in aliases.get(name, {}).items() if v == version)
            result.append(
                ModelVersion(
                    name,
                    version,
                    created,
                    source,
                    run_id,
                    json.loads(tags or "{}"),
                    json.loads(metrics or "{}"),
                    held,
                )
            )
        return sorted(result, key=lambda v: (v.model, version_key(v.version)))

    def _aliases(self, model: str | None = None) -> dict[str, dict[str, str]]:
        sql = "SELECT model, alias, version FROM registry_aliases WHERE registry = ?"
        params: list[Any] = [self.name]
        if model is not None:
            sql += " AND model = ?"
            params.append(model)
        result: dict[str, dict[str, str]] = {}
        for name, alias, version in self.store.query(sql, params)[1]:
            result.setdefault(name, {})[alias] = version
        return result

    def list_models(self) -> list[RegisteredModel]:
        aliases = self._aliases()
        models: dict[str, RegisteredModel] = {}
        for mv in self._versions():
            entry = models.setdefault(mv.model, RegisteredModel(mv.model, aliases.get(mv.model, {})))
            entry.latest_version = mv.version
            _touch(entry, mv.created_at)
        updated = self.store.query(
            "SELECT model, max(updated_at) FROM registry_aliases WHERE registry = ? GROUP BY model",
            [self.name],
        )[1]
        for name, when in updated:
            if name in models:
                _touch(models[name], when)
        return [models[name] for name in sorted(models)]

    def get_model(self, model: str) -> RegisteredModel:
        for entry in self.list_models():
            if entry.name == model:
                return entry
        raise RegistryError(f"{self.where}: no model named {model!r}; `oncall models` lists the models")

    def list_versions(self, model: str) -> list[ModelVersion]:
        self.get_model(model)
        return self._versions(model)

    def get_version(self, model: str, version: str) -> ModelVersion:
        for mv in self.list_versions(model):
            if mv.version == str(version):
                return mv
        raise RegistryError(f"{self.where}: model {model!r} has no version {version!r}")

    def resolve_alias(self, model: str, alias: str) -> ModelVersion:
        version = self._aliases(model).get(model, {}).get(alias)
        if version is None:
            self.get_model(model)
            raise RegistryError(f"{self.where}: model {model!r} has no alias {alias!r}")
        return self.get_version(model, version)

    # -- writing ----------------------------------------------------------------------

    def _write(self):
        if self.store.read_only:
            raise RegistryError(
                f"{self.where}: store {self.store.snapshot_of or self.store.path} "
                "is open read-only; changing the local registry needs the writer"
            )
        return self.store.transaction()

    def create_version(
        self,
        model: str,
        *,
        source: str | None = None,
        run_id: str | None = None,
        tags: dict[str, str] | None = None,
        metrics: dict[str, float] | None = None,
        created_at: datetime | None = None,
        version: str | None = None,
    ) -> str:
        """Register a new version (the next number unless given) and return its version."""
        with self._write() as cur:
            if version is None:
                cur.execute(
                    "SELECT max(TRY_CAST(version AS BIGINT)) FROM registry_versions "
                    "WHERE registry = ? AND model = ?",
                    [self.name, model],
                )
                version = str((cur.fetchone()[0] or 0) + 1)
            cur.execute(
                "INSERT INTO registry_versions VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                [
                    self.name,
                    model,
                    str(version),
                    created_at or self.clock(),
                    source,
                    run_id,
                    json.dumps(tags or {}),
                    json.dumps(metrics or {}),
                ],
            )
        return str(version)

    def set_alias(self, model: str, alias: str, version: str) -> None:
        self.get_version(model, version)
        with self._write() as cur:
            cur.execute(
                """
                INSERT INTO registry_aliases VALUES (?, ?, ?, ?, ?)
                ON CONFLICT (registry, model, alias) DO UPDATE
                SET version = excluded.version, updated_at = excluded.updated_at
                """,
                [self.name, model, alias, str(version), self.clock()],
            )

    def delete_alias(self, model: str, alias: str) -> None:
        self.resolve_alias(model, alias)
        with self._write() as cur:
            cur.execute(
                "DELETE FROM registry_aliases WHERE registry = ? AND model = ? AND alias = ?",
                [self.name, model, alias],
            )

    def set_tag(self, model: str, version: str, key: str, value: str) -> None:
        mv = self.get_version(model, version)
        tags = {**mv.tags, key: str(value)}
        with self._write() as cur:
            cur.execute(
                "UPDATE registry_versions SET tags = ? WHERE registry = ? AND model = ? AND version = ?",
                [json.dumps(tags), self.name, model, mv.version],
            )

    # -- the demo -----------------------------------------------------------------------

    def seed_demo(self, *, now: datetime, model: str = "fraud-detector") -> None:
        """Three versions of the demo model (20, 9 and 1 days old), champion on version 3."""
        if any(m.name == model for m in self.list_models()):
            return
        for days, auc in ((20, 0.912), (9, 0.927), (1, 0.934)):
            created = now - timedelta(days=days)
            self.create_version(
                model,
                created_at=created,
                source=f"models:/{model}/{created:%Y%m%d}",
                run_id=f"demo-run-{days}d",
                metrics={"auc": auc},
                tags={"trained_on": f"{created - timedelta(days=2):%Y-%m-%d}"},
            )
        clock, self.clock = self.clock, (lambda: now - timedelta(days=1))
        try:
            self.set_alias(model, "champion", "3")
        finally:
            self.clock = clock


def seed_demo_registry(store: Store, *, now: datetime, name: str = "local") -> LocalRegistry:
    """Fill the demo's local registry: `fraud-detector` versions 1..3, champion on 3."""
    registry = LocalRegistry(name, LocalOptions(), store=store, clock=lambda: now)
    registry.seed_demo(now=now)
    return registry


def _touch(entry: RegisteredModel, when: datetime | None) -> None:
    """A model was last updated at its latest version's creation or alias move, whichever is later."""
    if when and (entry.updated_at is None or when > entry.updated_at):
        entry.updated_at = when
