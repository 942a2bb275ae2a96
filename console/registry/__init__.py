"""Model registries behind one interface: `local` (in the store) and `mlflow` (REST)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from pydantic import ValidationError

from console.config.yamlmarks import Problem, locate
from console.registry.base import (
    Clock,
    ModelPolicy,
    ModelVersion,
    RegisteredModel,
    Registry,
    RegistryError,
    RegistryOptions,
    WatchConfig,
)

if TYPE_CHECKING:
    import httpx

    from console.config.workspace import RegistryConfig, Workspace
    from console.store import Store

__all__ = [
    "ModelPolicy",
    "ModelVersion",
    "RegisteredModel",
    "Registry",
    "RegistryError",
    "RegistryOptions",
    "WatchConfig",
    "adapter_class",
    "open_registry",
    "pick_registry",
    "registry_problems",
]


def adapter_class(kind: str) -> type[Registry]:
    """The adapter class for a registry kind."""
    if kind == "mlflow":
        from console.registry.mlflow import MlflowRegistry

        return MlflowRegistry
    from console.registry.local import LocalRegistry

    return LocalRegistry


def registry_problems(workspace: Workspace) -> list[Problem]:
    """Every registry whose adapter options do not validate, with file:line."""
    from console.config.problems import validation_problems
    from console.config.workspace import WorkspaceError, _merge_includes

    problems: list[Problem] = []
    try:
        data, _ = _merge_includes(workspace.path)
    except WorkspaceError as exc:
        return exc.problems
    seen: set[str] = set()
    for index, config in enumerate(workspace.config.registries):
        cls = adapter_class(config.kind)
        if config.name in seen:
            file, line, key = locate(data, ("registries", index, "name"), workspace.path)
            problems.append(Problem(file, line, f"two registries are named {config.name!r}", key))
        seen.add(config.name)
        try:
            cls.Options.model_validate(config.options)
        except ValidationError as exc:
            problems += validation_problems(
                exc,
                data,
                workspace.path,
                cls.Options,
                at=("registries", index),
                unknown="unknown option",
                missing=f"missing required option for a {cls.kind} registry",
            )
    return problems


def pick_registry(workspace: Workspace, name: str | None = None) -> RegistryConfig:
    """The named registry's config, or the first declared; RegistryError when there is none."""
    registries = workspace.config.registries
    if not registries:
        raise RegistryError(
            f"{workspace.path}: no registries declared; add e.g. `registries: [{{name: local, kind: local}}]`"
        )
    if name is None:
        return registries[0]
    for config in registries:
        if config.name == name:
            return config
    raise RegistryError(
        f"{workspace.path}: no registry named {name!r}; declared: {', '.join(r.name for r in registries)}"
    )


def open_registry(
    config: RegistryConfig,
    *,
    store: Store,
    clock: Clock,
    workspace: Workspace | None = None,
    transport: httpx.BaseTransport | None = None,
) -> Registry:
    """Build the adapter for a workspace registry; bad options raise RegistryError with file:line."""
    cls = adapter_class(config.kind)
    try:
        options = cls.Options.model_validate(config.options)
    except ValidationError:
        problems = registry_problems(workspace) if workspace is not None else []
        first = str(problems[0]) if problems else f"registry {config.name!r}: invalid options"
        raise RegistryError(f"{first}; run `oncall check`") from None
    if config.kind == "mlflow":
        from console.registry.mlflow import MlflowOptions, MlflowRegistry

        assert isinstance(options, MlflowOptions)  # what adapter_class("mlflow") validates
        return MlflowRegistry(
            config.name,
            options,
            transport=transport,
            base_dir=str(workspace.root) if workspace is not None else ".",
        )
    from console.registry.local import LocalRegistry

    return LocalRegistry(config.name, options, store=store, clock=clock)
