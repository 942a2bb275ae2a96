"""The demo service's prediction records: features, fraud score, and labels that arrive hours later.

While the served version is degraded, the upstream feed sends `amount` in the wrong unit
(larger and wider), the scores rise, and `amount` drifts; the other features do not move.
Noise comes from (seed, start_step, steps), like the rest of the simulator.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import pyarrow as pa

from collectors.demo_names import MODEL

if TYPE_CHECKING:
    from console.store import Store

PER_STEP = 6  # records per simulator step
CATEGORIES = ("grocery", "fuel", "electronics", "travel", "restaurants", "fashion", "gaming", "services")
CATEGORY_SHARES = (0.24, 0.14, 0.1, 0.08, 0.18, 0.12, 0.04, 0.1)
COUNTRIES = ("DE", "FR", "NL", "ES", "IT", "US")
COUNTRY_SHARES = (0.38, 0.2, 0.12, 0.12, 0.1, 0.08)
COUNTRY_RISK = (0.0, 0.1, 0.0, 0.2, 0.2, 0.6)
CATEGORY_RISK = (0.0, 0.0, 0.5, 0.4, 0.0, 0.2, 0.8, 0.1)
HOUR_WEIGHTS = np.array([1, 1, 1, 1, 1, 2, 3, 5, 7, 8, 8, 8, 9, 9, 8, 8, 8, 8, 9, 9, 7, 5, 3, 2], dtype=float)
LABEL_LAG_S = (2 * 3600, 6 * 3600)  # labels arrive 2 to 6 hours after the prediction
FEATURES = ("amount", "merchant_category", "country", "hour", "device_age_days")


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-x))


def simulate_predictions(
    start_step: int, steps: int, step_s: int, seed: int, served: list[str], degraded: list[bool]
) -> pa.Table:
    """Records for steps [start_step, start_step + steps): model, id, ts, version, features (JSON),
    prediction, origin, label and label_ts (when the label becomes known)."""
    rng = np.random.default_rng([seed, start_step, steps, 11])
    n = steps * PER_STEP
    step_index = np.repeat(np.arange(steps), PER_STEP)
    within = np.tile(np.arange(PER_STEP), steps)
    step_no = start_step + step_index
    # a step's records are spread over the step_s seconds that end at the step's timestamp
    ts_us = step_no.astype(np.int64) * step_s * 1_000_000 - (PER_STEP - 1 - within) * (
        step_s * 1_000_000 // PER_STEP
    )
    bad = np.asarray(degraded, dtype=bool)[step_index] if steps else np.zeros(0, dtype=bool)

    amount = np.exp(rng.normal(np.log(42.0), 0.9, n))
    amount = np.where(bad, amount * 3.5 + 25.0, amount).round(2)
    category = rng.choice(len(CATEGORIES), size=n, p=CATEGORY_SHARES)
    country = rng.choice(len(COUNTRIES), size=n, p=COUNTRY_SHARES)
    hour = rng.choice(24, size=n, p=HOUR_WEIGHTS / HOUR_WEIGHTS.sum())
    device_age = np.floor(rng.gamma(1.3, 180.0, n)).astype(np.int64)

    risk = (
        np.array(CATEGORY_RISK)[category]
        + np.array(COUNTRY_RISK)[country]
        + 0.6 * (device_age < 7)
        + 0.3 * ((hour < 5) | (hour > 22))
    )
    true_p = _sigmoid(-4.2 + risk + 0.9 * np.log1p(amount / 200.0))
    score = _sigmoid(-4.0 + risk + 0.9 * np.log1p(amount / 200.0) + rng.normal(0, 0.3, n))
    label = (rng.random(n) < true_p).astype(np.float64)
    lag_us = rng.integers(LABEL_LAG_S[0], LABEL_LAG_S[1], n).astype(np.int64) * 1_000_000

    cats, lands = np.array(CATEGORIES)[category].tolist(), np.array(COUNTRIES)[country].tolist()
    features = [
        f'{{"amount":{a!r},"merchant_category":"{c}","country":"{k}","hour":{h},"device_age_days":{d}}}'
        for a, c, k, h, d in zip(amount.tolist(), cats, lands, hour.tolist(), device_age.tolist())
    ]
    versions = [served[i] for i in step_index.tolist()]
    return pa.table(
        {
            "model": pa.array([MODEL] * n, pa.string()),
            "id": pa.array([f"{s}-{w}" for s, w in zip(step_no.tolist(), within.tolist())], pa.string()),
            "ts": pa.array(ts_us, pa.timestamp("us")),
            "version": pa.array(versions, pa.string()),
            "features": pa.array(features, pa.string()),
            "prediction": pa.array(score.round(6), pa.float64()),
            "origin": pa.array(["demo"] * n, pa.string()),
            "label": pa.array(label, pa.float64()),
            "label_ts": pa.array(ts_us + lag_us, pa.timestamp("us")),
        }
    )


def ingest_predictions(store: Store, records: pa.Table) -> int:
    """Insert simulated records and their labels (stamped with when each label arrives); return new records."""
    if records.num_rows == 0:
        return 0
    with store.transaction() as cur:
        cur.register("_demo_predictions", records)
        try:
            added = cur.execute(
                "INSERT INTO predictions SELECT model, id, ts, version, features, prediction, origin "
                "FROM _demo_predictions ON CONFLICT DO NOTHING"
            ).fetchall()[0][0]
            cur.execute(
                "INSERT INTO prediction_labels SELECT model, id, label, label_ts "
                "FROM _demo_predictions ON CONFLICT DO NOTHING"
            )
        finally:
            cur.unregister("_demo_predictions")
    return int(added)


def seed_predictions(
    store: Store, first_step: int, steps: int, step_s: int, seed: int, served: list[str]
) -> int:
    """The demo history's prediction records (nothing degraded); return how many were added."""
    return ingest_predictions(
        store, simulate_predictions(first_step, steps, step_s, seed, served, [False] * steps)
    )


def live_predictions(
    store: Store, start_step: int, steps: int, step_s: int, seed: int, served: list[str], degraded: list[bool]
) -> int:
    """The live run's records for the steps the simulator just produced."""
    return ingest_predictions(store, simulate_predictions(start_step, steps, step_s, seed, served, degraded))
