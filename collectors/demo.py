"""The demo's simulated fraud-scoring service: its history and its live traffic.

The simulator serves whatever version the registry's `champion` alias names.  Some
minutes after the live run starts (or when `trigger()` is called) the newest version
degrades: 5xx and latency rise and the logs fill with timeouts; a rollback heals it.
Every step's noise comes from (seed, step number), so a run is deterministic.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import numpy as np
import pyarrow as pa
from pydantic import Field

from collectors.base import CollectResult, Collector, CollectorOptions
from collectors.demo_predictions import live_predictions, seed_predictions
from console.durations import parse_duration
from console.store import Store, canonical_labels, ingest_logs, ingest_samples

SERVICE = "fraud-scoring"
MODEL = "fraud-detector"
ALIAS = "champion"
BUCKETS = (0.05, 0.1, 0.25, 0.5, 1.0, 2.5, float("inf"))
BASE_LABELS = {"service": SERVICE, "job": SERVICE}


@dataclass(frozen=True)
class Behaviour:
    """How a version serves: its 5xx share and its latency distribution."""

    error_ratio: float
    latency_median: float
    latency_sigma: float = 0.5


HEALTHY = {"1": Behaviour(0.0008, 0.070), "2": Behaviour(0.0006, 0.060),
           "3": Behaviour(0.0005, 0.055)}
DEGRADED = Behaviour(0.09, 0.450, 0.7)
LOG_LINES = {
    "info": ["scored transaction batch", "feature cache refreshed", "model warm",
             "request served"],
    "warning": ["slow feature lookup", "retrying feature-store call"],
    "error": ["upstream timeout calling feature-store after 2000ms",
              "prediction failed: model returned NaN score"],
}


def _le(bound: float) -> str:
    return "+Inf" if math.isinf(bound) else repr(bound)


def _cdf(bound: float, behaviour: Behaviour) -> float:
    if math.isinf(bound):
        return 1.0
    z = (math.log(bound) - math.log(behaviour.latency_median)) / behaviour.latency_sigma
    return 0.5 * (1 + math.erf(z / math.sqrt(2)))


def _series() -> list[tuple[str, dict[str, str]]]:
    names = [("http_requests_total", {**BASE_LABELS, "code": "200"}),
             ("http_requests_total", {**BASE_LABELS, "code": "500"})]
    names += [("http_request_duration_seconds_bucket", {**BASE_LABELS, "le": _le(b)})
              for b in BUCKETS]
    names += [("http_request_duration_seconds_count", dict(BASE_LABELS)),
              ("model_serving_version", {**BASE_LABELS, "model": MODEL})]
    return names


SERIES = _series()
SERIES_LABELS = [canonical_labels(labels) for _, labels in SERIES]


def simulate(start_step: int, steps: int, step_s: int, seed: int, served: list[str],
             degraded: list[bool], counters: list[float]) -> tuple[pa.Table, pa.Table, list[float]]:
    """Samples and logs for steps [start_step, start_step + steps) of `step_s` seconds.

    `served[i]` is the version serving step i and `degraded[i]` whether it misbehaves;
    `counters` are the cumulative counter values before the first step (an updated copy
    is returned).  The noise comes from (seed, start_step, steps).
    """
    rng = np.random.default_rng([seed, start_step, steps])
    step_no = np.arange(start_step, start_step + steps, dtype=np.int64)
    seconds = step_no * step_s
    hours = (seconds % 86400) / 3600
    rps = 40 + 25 * np.sin((hours - 9) / 24 * 2 * np.pi)
    behaviours = [DEGRADED if bad else HEALTHY.get(v, HEALTHY["3"]) for v, bad in zip(served, degraded)]
    error_ratio = np.array([b.error_ratio for b in behaviours])
    requests = rng.poisson(rps * step_s)
    errors = rng.binomial(requests, error_ratio)
    shares = {b: [_cdf(bound, b) for bound in BUCKETS] for b in set(behaviours)}
    bucket_share = np.array([shares[b] for b in behaviours]).reshape(steps, len(BUCKETS))
    increments = np.vstack([requests - errors, errors,
                            np.round(requests[:, None] * bucket_share).T, requests]).astype(float)
    values = np.cumsum(increments, axis=1) + np.array(counters, dtype=float)[:, None]
    counters = values[:, -1].tolist() if steps else list(counters)
    served_value = np.array([float(v) for v in served])
    values = np.vstack([values, served_value])

    bad = np.array(degraded, dtype=bool)
    per_step = 1 + rng.integers(0, 2, steps) + np.where(bad, 3, 0)
    line_step = np.repeat(np.arange(steps), per_step)
    first = np.concatenate([[0], np.cumsum(per_step)[:-1]])
    within = np.arange(line_step.size) - np.repeat(first, per_step)
    levels = rng.choice(np.array(["info", "warning", "error"]), size=line_step.size,
                        p=[0.93, 0.06, 0.01])
    levels = np.where(bad[line_step] & (within > 0), "error", levels)
    pick = rng.integers(0, 1 << 30, line_step.size)
    medians = np.array([b.latency_median for b in behaviours])[line_step]
    sigmas = np.array([b.latency_sigma for b in behaviours])[line_step]
    latency_ms = (1000 * medians * np.exp(sigmas * rng.standard_normal(line_step.size))).astype(int)
    line_us = seconds[line_step] * 1_000_000 + within * 10_000
    messages = [LOG_LINES[lvl][k % len(LOG_LINES[lvl])] for lvl, k in zip(levels.tolist(), pick.tolist())]
    versions = [served[i] for i in line_step.tolist()]
    attributes = [f'{{"model":"{MODEL}","version":"{v}","latency_ms":{ms}}}'
                  for v, ms in zip(versions, latency_ms.tolist())]
    stamps = pa.array(line_us, pa.timestamp("us"))
    iso = [t.isoformat() + "Z" for t in stamps.to_pylist()]
    raws = [f'{{"ts":"{t}","level":"{lvl}","service":"{SERVICE}","message":"{msg}",{attrs[1:]}'
            for t, lvl, msg, attrs in zip(iso, levels.tolist(), messages, attributes)]
    n = line_step.size
    logs = pa.table({
        "ts": stamps, "source": ["demo"] * n, "service": [SERVICE] * n,
        "level": levels.tolist(), "message": messages, "attributes": attributes, "raw": raws,
        "parse_error": pa.nulls(n, pa.string()), "origin": ["demo"] * n,
        "line_offset": pa.array(step_no[line_step] * 8 + within, pa.int64())})
    times = pa.array(seconds * 1_000_000, pa.timestamp("us"))
    samples = pa.concat_tables([
        pa.table({"name": [name] * steps, "labels": [labels] * steps, "ts": times,
                  "value": values[k]})
        for k, ((name, _), labels) in enumerate(zip(SERIES, SERIES_LABELS))])
    return samples, logs, counters


class DemoOptions(CollectorOptions):
    seed: int = 7
    step: str = "15s"
    degrade_after: str = "4m"
    registry: str = "local"
    model: str = MODEL
    degrade_version: str = "3"
    history_days: float = Field(default=3, ge=0)


class DemoCollector(Collector):
    """Live traffic of the simulated service, up to `now`, serving the champion."""

    kind = "demo"
    Options = DemoOptions
    options: DemoOptions

    def __init__(self, name: str, options: CollectorOptions, *, base_dir: str = ".") -> None:
        super().__init__(name, options, base_dir=base_dir)
        self.step_s = int(parse_duration(self.options.step).total_seconds())
        self._trigger_at: datetime | None = None

    def trigger(self, now: datetime) -> None:
        """Make the degradation start now instead of later."""
        self._trigger_at = now

    def champion(self, store: Store) -> str:
        rows = store.query("SELECT version FROM registry_aliases WHERE registry = ? AND model = ? "
                           "AND alias = ?", [self.options.registry, self.options.model, ALIAS])[1]
        return str(rows[0][0]) if rows else self.options.degrade_version

    def collect(self, store: Store, now: datetime) -> CollectResult:
        cursor = store.get_cursor(self.name)
        if cursor is None:
            raise RuntimeError(f"demo source {self.name!r} has no history; run seed_demo() first")
        degrade_at = datetime.fromisoformat(cursor["degrade_at"])
        if self._trigger_at is not None and self._trigger_at < degrade_at:
            degrade_at = self._trigger_at
        next_step = cursor["next_step"]
        last_step = int(now.timestamp() // self.step_s) if now.tzinfo else int(
            (now - datetime(1970, 1, 1)).total_seconds() // self.step_s)
        steps = last_step - next_step + 1
        if steps <= 0:
            return CollectResult(0)
        version = self.champion(store)
        step_times = [datetime(1970, 1, 1) + timedelta(seconds=(next_step + i) * self.step_s)
                      for i in range(steps)]
        degraded = [version == self.options.degrade_version and t >= degrade_at
                    for t in step_times]
        seed = int(cursor.get("seed", self.options.seed))   # the seed the history was made with
        samples, logs, counters = simulate(next_step, steps, self.step_s, seed,
                                           [version] * steps, degraded, cursor["counters"])
        new_cursor = {**cursor, "next_step": last_step + 1, "counters": counters,
                      "degrade_at": degrade_at.isoformat(), "serving": version,
                      "degraded": bool(degraded[-1])}
        live_predictions(store, next_step, steps, self.step_s, seed, [version] * steps, degraded)
        added = ingest_logs(store, logs)
        added += ingest_samples(store, samples, cursor=(self.name, new_cursor), now=now)
        return CollectResult(added, {"serving": version, "degraded": bool(degraded[-1])})


def seed_demo(store: Store, *, now: datetime, name: str = "demo", days: float = 3,
              step: str = "15s", seed: int = 7, degrade_after: str = "4m") -> dict[str, int]:
    """History up to `now` and the local registry: v1 20 days old, v2 9, v3 1 (champion)."""
    from console.registry.history import record_alias_move
    from console.registry.local import seed_demo_registry

    seed_demo_registry(store, now=now)
    step_s = int(parse_duration(step).total_seconds())
    epoch = datetime(1970, 1, 1)
    last_step = int((now - epoch).total_seconds() // step_s)
    steps = int(days * 86400 // step_s)
    first_step = last_step - steps + 1
    moves = [(now - timedelta(days=20), "1"), (now - timedelta(days=9), "2"),
             (now - timedelta(days=1), "3")]
    served = []
    for i in range(steps):
        t = epoch + timedelta(seconds=(first_step + i) * step_s)
        served.append(next((v for at, v in reversed(moves) if at <= t), "1"))
    samples, logs, counters = simulate(first_step, steps, step_s, seed, served, [False] * steps,
                                       [0.0] * (len(SERIES) - 1))
    cursor = {"next_step": last_step + 1, "counters": counters, "seed": seed,
              "degrade_at": (now + parse_duration(degrade_after)).isoformat(),
              "serving": served[-1] if served else "3", "degraded": False}
    seed_predictions(store, first_step, steps, step_s, seed, served)
    added_logs = ingest_logs(store, logs)
    added = ingest_samples(store, samples, cursor=(name, cursor), now=now)
    with store.transaction() as cur:
        previous = None
        for at, version in moves:
            record_alias_move(cur, ts=at, model=MODEL, alias=ALIAS, from_version=previous,
                              to_version=version, actor="ci-deployer", source="demo")
            previous = version
    return {"samples": added, "logs": added_logs, "changes": len(moves)}
