"""Stores for the canary tests: the demo's local registry with a canary version, and per-version series."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa

from console.canary.model import CanarySpec
from console.registry.local import LocalRegistry, seed_demo_registry
from console.store import Store, canonical_labels, ingest_samples

NOW = datetime(2026, 11, 20, 12, 0)
STEP = timedelta(minutes=1)
MODEL = "fraud-detector"


def add_series(
    store: Store, name: str, labels: dict[str, str], values: Sequence[float], *, end: datetime = NOW
) -> None:
    """`values` one a minute, the last at `end`."""
    n = len(values)
    table = pa.table(
        {
            "name": [name] * n,
            "labels": [canonical_labels(labels)] * n,
            "ts": pa.array([end - STEP * (n - 1 - i) for i in range(n)], pa.timestamp("us")),
            "value": [float(v) for v in values],
        }
    )
    ingest_samples(store, table)


def noisy(mean: float, n: int = 120, seed: int = 0, spread: float = 0.05) -> np.ndarray:
    return mean * (1 + spread * np.random.default_rng(seed).standard_normal(n))


def seed_registry(store: Store, *, canary_alias: str | None = "canary") -> LocalRegistry:
    """fraud-detector v1..v3 (champion on v3) and v4, the canary, held by `canary_alias`."""
    registry = seed_demo_registry(store, now=NOW)
    registry.create_version(MODEL, version="4", created_at=NOW - timedelta(hours=3))
    if canary_alias is not None:
        registry.set_alias(MODEL, canary_alias, "4")
    return registry


def two_versions(store: Store, *, latency: tuple[float, float], errors: tuple[float, float]) -> None:
    """`latency_seconds` and `error_ratio` for v3 (baseline) and v4 (canary), two hours a minute apart."""
    for seed, (version, lat, err) in enumerate((("3", latency[0], errors[0]), ("4", latency[1], errors[1]))):
        add_series(store, "latency_seconds", {"version": version, "instance": "a"}, noisy(lat, seed=seed))
        add_series(store, "error_ratio", {"version": version, "instance": "a"}, noisy(err, seed=10 + seed))


def spec(**overrides: Any) -> CanarySpec:
    data: dict[str, Any] = {
        "name": "fraud-v4",
        "model": MODEL,
        "baseline": "champion",
        "canary": "canary",
        "on_fail": "rollback",
        "metrics": [
            {"name": "latency", "query": "sum by (version) (latency_seconds)"},
            {"name": "errors", "query": "sum by (version) (error_ratio)", "critical": True},
        ],
        "source": "canaries.yaml:2",
    }
    return CanarySpec.model_validate({**data, **overrides})


CANARIES_FILE = """\
canaries:
  - name: fraud-v4
    model: fraud-detector
    baseline: champion
    canary: canary
    on_fail: rollback
    metrics:
      - name: latency
        query: 'sum by (version) (latency_seconds)'
      - name: errors
        query: 'sum by (version) (error_ratio)'
        critical: true
"""


def workspace(root: Path, *, allow_actions: bool = True, canaries: str = CANARIES_FILE) -> Path:
    """A workspace with the local registry and one canaries file; its store seeded."""
    (root / "oncall.yaml").write_text(
        "registries:\n  - name: local\n    kind: local\n"
        f"canaries: [canaries.yaml]\nallow_actions: {'true' if allow_actions else 'false'}\n"
    )
    (root / "canaries.yaml").write_text(canaries)
    return root / "oncall.yaml"
