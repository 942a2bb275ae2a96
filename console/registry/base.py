"""The registry interface: models, versions, aliases, tags, and the options every adapter shares."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Annotated, Any, ClassVar

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, model_validator

from console.config.durations import parse_duration

Duration = Annotated[timedelta, BeforeValidator(parse_duration)]
Clock = Callable[[], datetime]


class RegistryError(Exception):
    """A registry problem fit to show on one line: what failed, where, what to do."""


@dataclass
class ModelVersion:
    """One version of a registered model."""

    model: str
    version: str
    created_at: datetime | None = None
    source: str | None = None
    run_id: str | None = None
    tags: dict[str, str] = field(default_factory=dict)
    metrics: dict[str, float] = field(default_factory=dict)
    aliases: list[str] = field(default_factory=list)


@dataclass
class RegisteredModel:
    """A registered model with its aliases (alias -> version) and when it last changed."""

    name: str
    aliases: dict[str, str] = field(default_factory=dict)
    updated_at: datetime | None = None
    latest_version: str | None = None


def version_key(version: str) -> tuple[int, str]:
    """Sort versions numerically when they are numbers (MLflow's are), else as text."""
    return (int(version), "") if str(version).isdigit() else (10**18, str(version))


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)


class SeriesMatch(_Strict):
    """A counter in the store: metric name and the labels it must carry (exact values)."""

    name: str = Field(min_length=1)
    labels: dict[str, str] = {}


class WatchConfig(_Strict):
    """After a rollback, follow the model's error ratio until it recovers or time runs out."""

    duration: Duration = Field(default=timedelta(minutes=10), alias="for")
    every: Duration = timedelta(seconds=30)
    window: Duration = timedelta(minutes=5)
    errors: SeriesMatch
    total: SeriesMatch
    max_error_ratio: float | None = Field(default=None, ge=0, le=1)
    objective: float | None = Field(default=None, gt=0, lt=1)
    max_burn: float = Field(default=1.0, gt=0)

    @model_validator(mode="after")
    def _needs_threshold(self) -> WatchConfig:
        if self.max_error_ratio is None and self.objective is None:
            raise ValueError("set max_error_ratio or objective (with max_burn) to judge recovery")
        return self


class ModelPolicy(_Strict):
    """Per-model settings: the deploy hook argv (templated per argument) and the watch."""

    deploy_hook: list[str] = []
    hook_timeout: Duration = timedelta(minutes=5)
    watch: WatchConfig | None = None


class RegistryOptions(_Strict):
    """Options every registry kind accepts besides name, kind and protected_models."""

    serving_alias: str = Field(default="champion", min_length=1)
    models: dict[str, ModelPolicy] = {}


class Registry:
    """A model registry adapter.  Subclasses set `kind` and `Options` and implement the methods."""

    kind: ClassVar[str] = ""
    Options: ClassVar[type[RegistryOptions]] = RegistryOptions

    def __init__(self, name: str, options: RegistryOptions) -> None:
        self.name = name
        self.options = options

    @property
    def where(self) -> str:
        """Where this registry lives, for messages."""
        return f"registry {self.name!r} ({self.kind})"

    def list_models(self) -> list[RegisteredModel]:
        raise NotImplementedError

    def get_model(self, model: str) -> RegisteredModel:
        raise NotImplementedError

    def list_versions(self, model: str) -> list[ModelVersion]:
        raise NotImplementedError

    def get_version(self, model: str, version: str) -> ModelVersion:
        raise NotImplementedError

    def resolve_alias(self, model: str, alias: str) -> ModelVersion:
        """The version an alias points at; RegistryError if the alias is not set."""
        raise NotImplementedError

    def set_alias(self, model: str, alias: str, version: str) -> None:
        raise NotImplementedError

    def delete_alias(self, model: str, alias: str) -> None:
        raise NotImplementedError

    def set_tag(self, model: str, version: str, key: str, value: str) -> None:
        raise NotImplementedError

    def close(self) -> None:
        """Release connections; the default holds none."""

    def policy(self, model: str) -> ModelPolicy:
        return self.options.models.get(model) or ModelPolicy()

    def describe(self, model: str, version: str) -> dict[str, Any]:
        """A version as plain data for plans and audit rows."""
        mv = self.get_version(model, version)
        return {
            "version": mv.version,
            "created_at": mv.created_at,
            "source": mv.source,
            "run_id": mv.run_id,
            "metrics": mv.metrics,
            "tags": mv.tags,
        }
