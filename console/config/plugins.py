"""Collector plugins: the kinds installed under the `oncall.collectors` entry-point group.

The config layer finds and loads them through importlib.metadata, never by importing
`collectors` (which sits above it): a workspace pays only for the collectors it names.
"""

from __future__ import annotations

import sys
from collections.abc import Iterable
from importlib.metadata import EntryPoint, entry_points
from typing import Any, ClassVar, Protocol

from pydantic import BaseModel

ENTRY_POINT_GROUP = "oncall.collectors"
# Where the base class every plugin derives from lives (collectors/base.py).
_BASE_MODULE, _BASE_CLASS = "collectors.base", "Collector"


class CollectorClass(Protocol):
    """What the config layer needs of a collector class: its options model, constructor and
    retention."""

    Options: ClassVar[type[BaseModel]]
    retention: dict[str, float]  # the workspace's retention, days per kind

    def __init__(self, name: str, options: Any, *, base_dir: str = ".") -> None: ...


def collector_kinds() -> list[str]:
    """Every installed collector kind, without loading any of them."""
    return sorted({ep.name for ep in entry_points(group=ENTRY_POINT_GROUP)})


def _is_collector(cls: object) -> bool:
    # A subclass of Collector has imported collectors.base; if it is not loaded, nothing is one.
    base = getattr(sys.modules.get(_BASE_MODULE), _BASE_CLASS, None)
    return isinstance(cls, type) and isinstance(base, type) and issubclass(cls, base)


def _load_collector(ep: EntryPoint) -> type[CollectorClass]:
    cls = ep.load()
    if not _is_collector(cls):
        raise TypeError(f"{ep.value} is not a Collector subclass")
    return cls


def available_collectors(
    kinds: Iterable[str] | None = None,
) -> tuple[dict[str, type[CollectorClass]], dict[str, str]]:
    """Collector classes by kind, and the entry points that failed to load with why.

    With `kinds`, only those are loaded: a workspace pays for the collectors it uses.
    """
    wanted = None if kinds is None else set(kinds)
    loaded: dict[str, type[CollectorClass]] = {}
    broken: dict[str, str] = {}
    for ep in entry_points(group=ENTRY_POINT_GROUP):
        if wanted is not None and ep.name not in wanted:
            continue
        try:
            cls = _load_collector(ep)
        except Exception as exc:  # noqa: BLE001 - a broken plugin is reported (`oncall check`, the workspace)
            broken[ep.name] = f"{type(exc).__name__}: {exc}"
        else:
            loaded[ep.name] = cls
    return loaded, broken
