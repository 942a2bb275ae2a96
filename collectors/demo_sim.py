"""The demo service's simulation: traffic with a daily cycle, latency buckets and logs.

Every step's noise comes from (seed, step number), so any range of steps is reproducible on
its own.  Kept apart from `collectors.demo` so that loading the workspace (which validates
the demo source's options) does not import numpy and pyarrow.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pyarrow as pa

from collectors.demo_names import MODEL
from console.store import canonical_labels

SERVICE = "fraud-scoring"
BUCKETS = (0.05, 0.1, 0.25, 0.5, 1.0, 2.5, float("inf"))
BASE_LABELS = {"service": SERVICE, "job": SERVICE}


@dataclass(frozen=True)
class Behaviour:
    """How a version serves: its 5xx share and its latency distribution."""

    error_ratio: float
    latency_median: float
    latency_sigma: float = 0.5


HEALTHY = {"1": Behaviour(0.0008, 0.070), "2": Behaviour(0.0006, 0.060), "3": Behaviour(0.0005, 0.055)}
DEGRADED = Behaviour(0.09, 0.700, 0.7)  # 5xx 9%, two thirds of requests over 500 ms
LOG_LINES = {
    "info": ["scored transaction batch", "feature cache refreshed", "model warm", "request served"],
    "warning": ["slow feature lookup", "retrying feature-store call"],
    "error": [
        "upstream timeout calling feature-store after 2000ms",
        "prediction failed: model returned NaN score",
    ],
}


def _le(bound: float) -> str:
    return "+Inf" if math.isinf(bound) else repr(bound)


def _cdf(bound: float, behaviour: Behaviour) -> float:
    if math.isinf(bound):
        return 1.0
    z = (math.log(bound) - math.log(behaviour.latency_median)) / behaviour.latency_sigma
    return 0.5 * (1 + math.erf(z / math.sqrt(2)))


def _series() -> list[tuple[str, dict[str, str]]]:
    names = [
        ("http_requests_total", {**BASE_LABELS, "code": "200"}),
        ("http_requests_total", {**BASE_LABELS, "code": "500"}),
    ]
    names += [("http_request_duration_seconds_bucket", {**BASE_LABELS, "le": _le(b)}) for b in BUCKETS]
    names += [
        ("http_request_duration_seconds_count", dict(BASE_LABELS)),
        ("model_serving_version", {**BASE_LABELS, "model": MODEL}),
    ]
    return names


SERIES = _series()
SERIES_LABELS = [canonical_labels(labels) for _, labels in SERIES]


def simulate(
    start_step: int,
    steps: int,
    step_s: int,
    seed: int,
    served: list[str],
    degraded: list[bool],
    counters: list[float],
) -> tuple[pa.Table, pa.Table, list[float]]:
    """Samples and logs for steps [start_step, start_step + steps) of `step_s` seconds.

    `served[i]` is the version serving step i and `degraded[i]` whether it misbehaves;
    `counters` are the cumulative counter values before the first step (an updated copy
    is returned).  The noise comes from (seed, start_step, steps).
    """
    rng = np.random.default_rng([seed, start_step, steps])  # drawn from in this order
    step_no = np.arange(start_step, start_step + steps, dtype=np.int64)
    seconds = step_no * step_s
    behaviours = [DEGRADED if bad else HEALTHY.get(v, HEALTHY["3"]) for v, bad in zip(served, degraded)]
    values, counters = _counter_values(rng, seconds, step_s, behaviours, counters)
    values = np.vstack([values, np.array([float(v) for v in served])])
    logs = _logs(rng, step_no, seconds, served, degraded, behaviours)
    times = pa.array(seconds * 1_000_000, pa.timestamp("us"))
    samples = pa.concat_tables(
        [
            pa.table({"name": [name] * steps, "labels": [labels] * steps, "ts": times, "value": values[k]})
            for k, ((name, _), labels) in enumerate(zip(SERIES, SERIES_LABELS))
        ]
    )
    return samples, logs, counters


def _counter_values(
    rng: np.random.Generator,
    seconds: np.ndarray,
    step_s: int,
    behaviours: list[Behaviour],
    counters: list[float],
) -> tuple[np.ndarray, list[float]]:
    """Each counter series' value at each step (rows in SERIES order), and the last values."""
    steps = len(seconds)
    hours = (seconds % 86400) / 3600
    rps = 40 + 25 * np.sin((hours - 9) / 24 * 2 * np.pi)
    error_ratio = np.array([b.error_ratio for b in behaviours])
    requests = rng.poisson(rps * step_s)
    errors = rng.binomial(requests, error_ratio)
    shares = {b: [_cdf(bound, b) for bound in BUCKETS] for b in set(behaviours)}
    bucket_share = np.array([shares[b] for b in behaviours]).reshape(steps, len(BUCKETS))
    increments = np.vstack(
        [requests - errors, errors, np.round(requests[:, None] * bucket_share).T, requests]
    ).astype(float)
    values = np.cumsum(increments, axis=1) + np.array(counters, dtype=float)[:, None]
    return values, values[:, -1].tolist() if steps else list(counters)


def _logs(
    rng: np.random.Generator,
    step_no: np.ndarray,
    seconds: np.ndarray,
    served: list[str],
    degraded: list[bool],
    behaviours: list[Behaviour],
) -> pa.Table:
    """The service's log lines: a few a step, more (and errors) while it is degraded."""
    steps = len(step_no)
    bad = np.array(degraded, dtype=bool)
    per_step = 1 + rng.integers(0, 2, steps) + np.where(bad, 3, 0)
    line_step = np.repeat(np.arange(steps), per_step)
    first = np.concatenate([[0], np.cumsum(per_step)[:-1]])
    within = np.arange(line_step.size) - np.repeat(first, per_step)
    levels = rng.choice(np.array(["info", "warning", "error"]), size=line_step.size, p=[0.93, 0.06, 0.01])
    levels = np.where(bad[line_step] & (within > 0), "error", levels)
    pick = rng.integers(0, 1 << 30, line_step.size)
    medians = np.array([b.latency_median for b in behaviours])[line_step]
    sigmas = np.array([b.latency_sigma for b in behaviours])[line_step]
    latency_ms = (1000 * medians * np.exp(sigmas * rng.standard_normal(line_step.size))).astype(int)
    line_us = seconds[line_step] * 1_000_000 + within * 10_000
    messages = [LOG_LINES[lvl][k % len(LOG_LINES[lvl])] for lvl, k in zip(levels.tolist(), pick.tolist())]
    versions = [served[i] for i in line_step.tolist()]
    attributes = [
        f'{{"model":"{MODEL}","version":"{v}","latency_ms":{ms}}}'
        for v, ms in zip(versions, latency_ms.tolist())
    ]
    stamps = pa.array(line_us, pa.timestamp("us"))
    iso = [t.isoformat() + "Z" for t in stamps.to_pylist()]
    raws = [
        f'{{"ts":"{t}","level":"{lvl}","service":"{SERVICE}","message":"{msg}",{attrs[1:]}'
        for t, lvl, msg, attrs in zip(iso, levels.tolist(), messages, attributes)
    ]
    n = line_step.size
    return pa.table(
        {
            "ts": stamps,
            "source": ["demo"] * n,
            "service": [SERVICE] * n,
            "level": levels.tolist(),
            "message": messages,
            "attributes": attributes,
            "raw": raws,
            "parse_error": pa.nulls(n, pa.string()),
            "origin": ["demo"] * n,
            "line_offset": pa.array(step_no[line_step] * 8 + within, pa.int64()),
        }
    )


def simulate_split(
    start_step: int,
    steps: int,
    step_s: int,
    seed: int,
    champion: list[str],
    canary: list[str | None],
    degraded: dict[str, int],
    share: float,
    counters: dict[str, list[float]],
) -> tuple[pa.Table, pa.Table, list[str], list[bool], dict[str, list[float]]]:
    """A canary rollout's steps: `canary[i]` (None: no canary) serves `share` of step i's
    requests and `champion[i]` the rest, every series labelled with the `version` that served it.

    `degraded[v]` is the first step index at which version v misbehaves; `counters` are each
    version's cumulative counter values (a version not in it starts at zero; an updated copy is
    returned).  Also returned: the version whose log lines and prediction records each step
    carries (the canary's on about `share` of the steps) and whether that version was degraded.
    """
    rng = np.random.default_rng([seed, start_step, steps, 23])
    step_no = np.arange(start_step, start_step + steps, dtype=np.int64)
    seconds = step_no * step_s
    hours = (seconds % 86400) / 3600
    requests = rng.poisson((40 + 25 * np.sin((hours - 9) / 24 * 2 * np.pi)) * step_s)
    on_canary = np.array([c is not None and c != v for c, v in zip(canary, champion)], dtype=bool)
    to_canary = np.where(on_canary, rng.binomial(requests, share), 0)
    out = {k: list(v) for k, v in counters.items()}
    tables = []
    champions, canaries = np.array(champion, dtype=object), np.array([c or "" for c in canary], dtype=object)
    for version in sorted({*champion, *(c for c in canary if c is not None)}):
        mine = champions == version  # on a canary step the champion serves what the canary does not
        as_canary = on_canary & (canaries == version)
        served = np.where(mine, requests - to_canary, 0) + np.where(as_canary, to_canary, 0)
        present = mine | as_canary
        bad_from = degraded.get(version, steps)
        behaviours = [DEGRADED if i >= bad_from else HEALTHY.get(version, HEALTHY["3"]) for i in range(steps)]
        values, last = _version_counters(rng, served, behaviours, out.get(version, [0.0] * (len(SERIES) - 1)))
        if present.any():
            out[version] = last
            tables.append(_version_samples(seconds[present], values[:, present], version))
    gauge = pa.table(
        {
            "name": ["model_serving_version"] * steps,
            "labels": [SERIES_LABELS[-1]] * steps,
            "ts": pa.array(seconds * 1_000_000, pa.timestamp("us")),
            "value": [float(v) for v in champion],
        }
    )
    shown, bad = _shown(rng, champion, canary, on_canary, degraded, share)
    shown_behaviours = [DEGRADED if b else HEALTHY.get(v, HEALTHY["3"]) for v, b in zip(shown, bad)]
    logs = _logs(rng, step_no, seconds, shown, bad, shown_behaviours)
    return pa.concat_tables([*tables, gauge]), logs, shown, bad, out


def _shown(
    rng: np.random.Generator,
    champion: list[str],
    canary: list[str | None],
    on_canary: np.ndarray,
    degraded: dict[str, int],
    share: float,
) -> tuple[list[str], list[bool]]:
    """The version each step's log lines and records carry (the canary's on about `share` of
    its steps), and whether it was degraded then."""
    steps = len(champion)
    pick = rng.random(steps) < share
    shown = [str(c) if on and p else v for c, v, on, p in zip(canary, champion, on_canary, pick)]
    return shown, [i >= degraded.get(v, steps) for i, v in enumerate(shown)]


def _version_counters(
    rng: np.random.Generator, requests: np.ndarray, behaviours: list[Behaviour], counters: list[float]
) -> tuple[np.ndarray, list[float]]:
    """One version's counter series at each step (rows in SERIES order, the gauge left out)."""
    steps = len(requests)
    errors = rng.binomial(requests, np.array([b.error_ratio for b in behaviours]))
    shares = {b: [_cdf(bound, b) for bound in BUCKETS] for b in set(behaviours)}
    bucket_share = np.array([shares[b] for b in behaviours]).reshape(steps, len(BUCKETS))
    increments = np.vstack(
        [requests - errors, errors, np.round(requests[:, None] * bucket_share).T, requests]
    ).astype(float)
    values = np.cumsum(increments, axis=1) + np.array(counters, dtype=float)[:, None]
    return values, values[:, -1].tolist() if steps else list(counters)


def _version_samples(seconds: np.ndarray, values: np.ndarray, version: str) -> pa.Table:
    """The counter series of one version, labelled with it, at the steps it served."""
    times = pa.array(seconds * 1_000_000, pa.timestamp("us"))
    n = len(seconds)
    return pa.concat_tables(
        [
            pa.table(
                {
                    "name": [name] * n,
                    "labels": [canonical_labels({**labels, "version": version})] * n,
                    "ts": times,
                    "value": values[k],
                }
            )
            for k, (name, labels) in enumerate(SERIES[:-1])
        ]
    )
