"""Counters and histograms for the metrics Sloth's example specs query, as OpenMetrics.

Four days at one sample a minute of `http_request_duration_seconds` (job myservice, per model,
instance and code: `_count` and `_bucket` with `le` 0.1, 0.4, +Inf) and the Kubernetes
apiserver's `apiserver_request_total` and `apiserver_request_duration_seconds` (per verb),
with an error burst, a slow spell and a counter reset, so that SLOs page and ticket."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path

import numpy as np

START = datetime(2026, 1, 10)
DAYS = 4
STEP = timedelta(minutes=1)
RESET_AT = START + timedelta(days=3, hours=4)  # instance i2 restarts: its counters start over
ERROR_BURST = (START + timedelta(days=3, hours=8), START + timedelta(days=3, hours=10))  # model a
SLOW_SPELL = (START + timedelta(days=3, hours=14), START + timedelta(days=3, hours=17))  # model b, GET


def _epoch(value: datetime) -> int:
    return int((value - datetime(1970, 1, 1)).total_seconds())


def _labels(**labels: str) -> str:
    return ",".join(f'{k}="{v}"' for k, v in labels.items())


def write_openmetrics(path: Path) -> None:
    """The file, every value an integer so sums in any order are exact."""
    rng = np.random.default_rng(19)
    n = int(timedelta(days=DAYS) / STEP)
    times = np.array([_epoch(START + STEP * i) for i in range(n)])
    burst = (times > _epoch(ERROR_BURST[0])) & (times <= _epoch(ERROR_BURST[1]))
    slow = (times > _epoch(SLOW_SPELL[0])) & (times <= _epoch(SLOW_SPELL[1]))
    reset = int((RESET_AT - START) / STEP)

    def cumulative(increments: np.ndarray, restarts: bool) -> np.ndarray:
        values = np.cumsum(increments) + 500
        if restarts:
            values[reset:] = np.cumsum(increments[reset:])
        return values

    http: dict[str, list[str]] = {"count": [], "bucket": []}
    for model in ("a", "b"):
        for instance in ("i1", "i2"):
            total = rng.integers(40, 80, n)
            p500 = np.where(burst, 0.08, 0.0005) if model == "a" else np.full(n, 0.0005)
            e500 = rng.binomial(total, p500)
            e429 = rng.binomial(total - e500, 0.0003)
            codes = {"200": total - e500 - e429, "500": e500, "429": e429}
            for code, count in codes.items():
                fast = np.where(slow, 0.75, 0.995) if model == "b" else np.full(n, 0.995)
                under_04 = rng.binomial(count, fast)
                under_01 = rng.binomial(under_04, 0.6)
                base = _labels(job="myservice", model=model, instance=instance, code=code)
                restarts = instance == "i2"
                http["count"].append(
                    _series(
                        f"http_request_duration_seconds_count{{{base}}}", cumulative(count, restarts), times
                    )
                )
                for le, values in (("0.1", under_01), ("0.4", under_04), ("+Inf", count)):
                    http["bucket"].append(
                        _series(
                            f'http_request_duration_seconds_bucket{{{base},le="{le}"}}',
                            cumulative(values, restarts),
                            times,
                        )
                    )
    api_total, api_count, api_bucket = [], [], []
    for verb in ("GET", "WATCH"):
        total = rng.integers(100, 200, n)
        errors = rng.binomial(total, np.where(burst, 0.03, 0.0004))
        for code, count in (("200", total - errors), ("500", errors)):
            api_total.append(
                _series(
                    f"apiserver_request_total{{{_labels(verb=verb, code=code)}}}",
                    cumulative(count, False),
                    times,
                )
            )
        fast = np.where(slow, 0.8, 0.998) if verb == "GET" else np.full(n, 0.5)  # a watch waits
        under_04 = rng.binomial(total, fast)
        under_5 = np.maximum(under_04, rng.binomial(total, 0.9995))
        api_count.append(
            _series(
                f"apiserver_request_duration_seconds_count{{{_labels(verb=verb)}}}",
                cumulative(total, False),
                times,
            )
        )
        for le, values in (("0.4", under_04), ("5", under_5), ("+Inf", total)):
            name = f'apiserver_request_duration_seconds_bucket{{{_labels(verb=verb)},le="{le}"}}'
            api_bucket.append(_series(name, cumulative(values, False), times))
    lines = ["# TYPE http_request_duration_seconds histogram", *http["count"], *http["bucket"]]
    lines += ["# TYPE apiserver_request counter", *api_total]
    lines += ["# TYPE apiserver_request_duration_seconds histogram", *api_count, *api_bucket, "# EOF"]
    path.write_text("\n".join(lines) + "\n")


def _series(name: str, values: np.ndarray, times: np.ndarray) -> str:
    return "\n".join(f"{name} {v} {t}" for v, t in zip(values.tolist(), times.tolist()))
