"""Polls a model registry and records every alias move it observes into `changes`."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Literal

from pydantic import Field

from collectors.base import Collector, CollectorOptions, CollectResult
from console.core.credentials import Credentials
from console.registry.history import last_recorded, record_alias_move

if TYPE_CHECKING:
    import httpx

    from console.registry.base import RegisteredModel, Registry
    from console.store import Store


class RegistryCollectorOptions(CollectorOptions, Credentials):
    """Which registry to poll; `models`/`aliases` narrow it (empty means all)."""

    adapter: Literal["mlflow", "local"] = "mlflow"
    url: str | None = Field(default=None, pattern=r"^https?://")
    token_env: str = "MLFLOW_TRACKING_TOKEN"
    timeout: float = Field(default=10.0, gt=0)
    registry: str | None = None
    models: list[str] = []
    aliases: list[str] = []


class RegistryCollector(Collector):
    """Alias moves as deploy events, so "who served as champion at T" is answerable."""

    kind = "registry"
    Options = RegistryCollectorOptions
    options: RegistryCollectorOptions

    def __init__(
        self,
        name: str,
        options: CollectorOptions,
        *,
        base_dir: str = ".",
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        super().__init__(name, options, base_dir=base_dir)
        self.transport = transport

    def _registry(self, store: Store, now: datetime) -> Registry:
        if self.options.adapter == "mlflow":
            from console.registry.mlflow import MlflowOptions, MlflowRegistry

            if not self.options.url:
                from console.registry.base import RegistryError

                raise RegistryError(f"source {self.name!r}: the mlflow adapter needs `url`")
            credentials = self.options.model_dump(
                include=set(Credentials.model_fields), exclude_defaults=True
            )
            return MlflowRegistry(
                self.options.registry or self.name,
                MlflowOptions(
                    url=self.options.url,
                    token_env=self.options.token_env,
                    timeout=timedelta(seconds=self.options.timeout),
                    fetch_metrics=False,
                    **credentials,
                ),
                transport=self.transport,
                base_dir=self.base_dir,
            )
        from console.registry.local import LocalOptions, LocalRegistry

        return LocalRegistry(self.options.registry or "local", LocalOptions(), store=store, clock=lambda: now)

    def collect(self, store: Store, now: datetime) -> CollectResult:
        registry = self._registry(store, now)
        try:
            models = registry.list_models()
        finally:
            registry.close()
        previous = (store.get_cursor(self.name) or {}).get("polled_at")
        moves = [
            move
            for model in models
            if not self.options.models or model.name in self.options.models
            for move in self._moves(store, model)
        ]
        with store.transaction() as cur:
            for model_name, alias, was, now_version in moves:
                record_alias_move(
                    cur,
                    ts=now,
                    model=model_name,
                    alias=alias,
                    from_version=was,
                    to_version=now_version,
                    actor=None,
                    source=self.name,
                    observed=True,
                    moved_after=previous,
                    registry=registry.name,
                )
            store.set_cursor(cur, self.name, {"polled_at": str(now)}, len(moves), now)
        return CollectResult(len(moves), {"models": len(models), "moves": len(moves)})

    def _moves(self, store: Store, model: RegisteredModel) -> list[tuple[str, str, str | None, str | None]]:
        """(model, alias, recorded version, version now) for each watched alias that moved."""
        recorded = {
            alias: last_recorded(store, model.name, alias)
            for alias in set(model.aliases) | self._known_aliases(store, model.name)
        }
        return [
            (model.name, alias, was, model.aliases.get(alias))
            for alias, was in sorted(recorded.items())
            if (not self.options.aliases or alias in self.options.aliases) and model.aliases.get(alias) != was
        ]

    @staticmethod
    def _known_aliases(store: Store, model: str) -> set[str]:
        rows = store.query(
            "SELECT DISTINCT json_extract_string(detail, '$.alias') FROM changes "
            "WHERE kind = 'alias_move' AND model = ?",
            [model],
        )[1]
        return {r[0] for r in rows if r[0]}
