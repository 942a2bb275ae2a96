"""Simulated history of a fraud-scoring service, for `oncall demo` and tests.

Deterministic under a seed: traffic with a daily cycle, a small baseline error rate,
a latency histogram, JSON-like log records, and the model's alias moves.
"""

from __future__ import annotations

import json
import math
from datetime import datetime, timedelta

import numpy as np
import pyarrow as pa

from console.store import Store, canonical_labels, ingest_logs, ingest_samples

SERVICE = "fraud-scoring"
MODEL = "fraud-detector"
BUCKETS = (0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, float("inf"))
LOG_MESSAGES = {
    "info": ["scored transaction", "batch scored", "feature cache refreshed", "model loaded"],
    "warning": ["slow feature lookup", "retrying feature store call"],
    "error": ["upstream timeout calling feature-store", "prediction failed: model error"],
}


def _le(bound: float) -> str:
    return "+Inf" if bound == float("inf") else repr(bound)


def generate_history(store: Store, *, end: datetime, days: float = 3, step_s: int = 60,
                     seed: int = 7) -> dict[str, int]:
    """Write `days` of history ending at `end` into the store; return rows added per kind."""
    rng = np.random.default_rng(seed)
    steps = int(days * 86400 // step_s)
    start = end - timedelta(seconds=steps * step_s)
    ts = np.array([start + timedelta(seconds=(i + 1) * step_s) for i in range(steps)],
                  dtype="datetime64[us]")
    hours = (ts - ts.astype("datetime64[D]")).astype("timedelta64[m]").astype(float) / 60
    rate = 40 + 30 * np.sin((hours - 9) / 24 * 2 * np.pi)            # requests per second
    requests = rng.poisson(np.clip(rate, 5, None) * step_s)
    errors = rng.binomial(requests, 0.002)
    frames = []

    def counter(name: str, labels: dict[str, str], increments: np.ndarray) -> None:
        frames.append(pa.table({
            "name": [name] * steps, "labels": [canonical_labels(labels)] * steps,
            "ts": pa.array(ts), "value": np.cumsum(increments).astype(float)}))

    base = {"service": SERVICE, "job": "fraud-scoring"}
    counter("http_requests_total", {**base, "code": "200"}, requests - errors)
    counter("http_requests_total", {**base, "code": "500"}, errors)
    # Latency: log-normal around 60 ms; cumulative bucket counts.
    shares = [1.0 if bound == float("inf")
              else 0.5 * (1 + math.erf((math.log(bound) - math.log(0.06)) / (0.6 * math.sqrt(2))))
              for bound in BUCKETS]
    for bound, share in zip(BUCKETS, shares):
        counter("http_request_duration_seconds_bucket", {**base, "le": _le(bound)},
                np.round(requests * share))
    counter("http_request_duration_seconds_count", base, requests)
    frames.append(pa.table({
        "name": ["model_predictions_score_mean"] * steps,
        "labels": [canonical_labels({"model": MODEL})] * steps,
        "ts": pa.array(ts), "value": 0.12 + 0.01 * rng.standard_normal(steps)}))
    added = ingest_samples(store, pa.concat_tables(frames), cursor=("demo", {"until": str(end)}),
                           now=end)

    n_logs = steps
    levels = rng.choice(["info", "warning", "error"], size=n_logs, p=[0.9, 0.08, 0.02])
    records = []
    for i, (level, moment) in enumerate(zip(levels, ts)):
        message = LOG_MESSAGES[level][i % len(LOG_MESSAGES[level])]
        attrs = {"model": MODEL, "latency_ms": int(rng.gamma(2, 30))}
        raw = json.dumps({"ts": str(moment) + "Z", "level": level, "service": SERVICE,
                          "message": message, **attrs})
        records.append((moment, level, message, json.dumps(attrs), raw, i))
    logs = pa.table({
        "ts": pa.array([r[0] for r in records], pa.timestamp("us")),
        "source": ["demo"] * n_logs, "service": [SERVICE] * n_logs,
        "level": [r[1] for r in records], "message": [r[2] for r in records],
        "attributes": [r[3] for r in records], "raw": [r[4] for r in records],
        "parse_error": pa.nulls(n_logs, pa.string()), "origin": ["demo"] * n_logs,
        "line_offset": pa.array([r[5] for r in records], pa.int64())})
    log_rows = ingest_logs(store, logs)

    with store.transaction() as cur:
        for days_ago, version in ((20, "1"), (9, "2"), (1, "3")):
            cur.execute("INSERT INTO changes VALUES (?, 'alias_move', ?, ?, ?, ?, 'demo')",
                        [end - timedelta(days=days_ago), MODEL, version, "ci-deployer",
                         json.dumps({"alias": "champion"})])
    return {"samples": added, "logs": log_rows, "changes": 3}
