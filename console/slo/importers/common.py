"""What the Sloth and OpenSLO readers share: names, label maps, the report of what was not carried over."""

from __future__ import annotations

import re
from typing import Any

_NAME_BAD = re.compile(r"[^A-Za-z0-9_.:-]+")


class Unsupported(ValueError):
    """A part of a spec oncall's SLO model cannot express; the message says what and why."""


def listing(value: Any, what: str) -> list:
    """`value` when it is a list ([] for nothing); Unsupported naming `what` otherwise."""
    if value is None:
        return []
    if not isinstance(value, list):
        raise Unsupported(f"{what} is a {type(value).__name__}, not a list")
    return value


def mapping(value: Any, what: str) -> dict:
    """`value` when it is a mapping ({} for nothing); Unsupported naming `what` otherwise."""
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise Unsupported(f"{what} is a {type(value).__name__}, not a mapping")
    return value


def slo_name(*parts: str) -> str:
    """An oncall SLO name from the parts Sloth or OpenSLO give (joined by `-`)."""
    joined = "-".join(p for p in parts if p)
    return _NAME_BAD.sub("-", joined).strip("-._:") or "slo"


def text(value: Any) -> str:
    """A label value as Go's YAML would print it (`true`, not `True`)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def string_map(mapping: Any) -> dict[str, str]:
    """A mapping of labels or annotations, values as text; a list value joined with commas."""
    if mapping is None:
        return {}
    if not isinstance(mapping, dict):
        raise Unsupported(f"labels or annotations are a {type(mapping).__name__}, not a mapping")
    return {str(k): ",".join(map(text, v)) if isinstance(v, list) else text(v) for k, v in mapping.items()}


def string_maps(spec: dict) -> dict[str, dict[str, str]]:
    """A spec's `labels` and `annotations` (those given), values as text."""
    return {f: string_map(spec[f]) for f in ("labels", "annotations") if spec.get(f)}
