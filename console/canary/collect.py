"""The values a canary analysis judges: each metric's PromQL over the window, split by version.

Every metric of a spec is `query_range` on the store over `[now - lookback, now]` at step
`interval`, as Prometheus's /api/v1/query_range would answer it.  The series whose `label`
(default `version`) is the baseline version form the baseline group, those whose label is
the canary version the canary group; each group must be one series (the query aggregates
`by (version)`).  A metric that cannot be collected gets a one-line error instead of values:
the judge counts it as NoData and the error is shown with the analysis.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any

from console.config.promql import DEFAULT_WINDOWS, Windows
from console.registry.base import Registry, RegistryError

if TYPE_CHECKING:
    import numpy as np

    from console.canary.model import CanarySpec, MetricSpec
    from console.store import Store

    Values = dict[str, tuple[np.ndarray, np.ndarray]]

LabelSet = tuple[tuple[str, str], ...]


class CanaryError(Exception):
    """The analysis cannot run as specified (one line: what and where)."""


def resolve(registry: Registry, spec: CanarySpec) -> tuple[str, str]:
    """The baseline and canary versions: a version number as it is, an alias via the registry.

    RegistryError when a version or alias does not exist; CanaryError when both are the same."""
    baseline = _version(registry, spec, spec.baseline, "baseline")
    canary = _version(registry, spec, spec.canary, "canary")
    if baseline == canary:
        raise CanaryError(
            f"{spec.source or spec.name}: baseline {spec.baseline!r} and canary {spec.canary!r} "
            f"are both v{baseline} of {spec.model}: nothing to compare"
        )
    return baseline, canary


def is_version(registry: Registry, spec: CanarySpec, value: str) -> bool:
    """Whether `value` names a version of the spec's model (else it is an alias)."""
    try:
        registry.get_version(spec.model, value)
    except RegistryError:
        return False
    return True


def _version(registry: Registry, spec: CanarySpec, value: str, role: str) -> str:
    if is_version(registry, spec, value):
        return str(value)
    try:
        return registry.resolve_alias(spec.model, value).version
    except RegistryError as exc:
        raise RegistryError(
            f"{spec.source or spec.name}: {role} {value!r} is neither a version nor an alias of "
            f"{spec.model} ({exc})"
        ) from None


def collect(
    store: Store,
    spec: CanarySpec,
    baseline_version: str,
    canary_version: str,
    now: datetime,
    *,
    windows: Windows = DEFAULT_WINDOWS,
) -> tuple[Values, dict[str, str]]:
    """(values, errors): per metric name its (baseline, canary) values in time order, or why not.

    A step where a group's series has no sample gives no value; a NaN the query answers stays
    NaN (the judge drops NaN before it counts)."""
    start = now - spec.lookback
    values: Values = {}
    errors: dict[str, str] = {}
    cur = store.cursor()
    try:
        for metric in spec.metrics:
            try:
                found = answer(cur, spec, metric, start, now, windows)
                values[metric.name] = groups(found, spec, metric, baseline_version, canary_version)
            except CanaryError as exc:
                errors[metric.name] = str(exc)
    finally:
        cur.close()
    return values, errors


def answer(
    cur: Any, spec: CanarySpec, metric: MetricSpec, start: datetime, end: datetime, windows: Windows
) -> dict[LabelSet, list[tuple[float, float]]]:
    """One metric over [start, end] at step `interval`, per label set its (epoch seconds, value):
    PromQL through `query_range`, SQL on the same grid.  CanaryError says why not."""
    if metric.sql is not None:
        return sql_answer(cur, spec, metric.sql, start, end)
    from console.rules.promql import Options, PromQLError, PromQLEvalError, query_range

    options = Options(windows=windows, default_step_ms=int(spec.interval.total_seconds() * 1000))
    try:
        return query_range(cur, metric.promql, start, end, spec.interval, options)
    except (PromQLError, PromQLEvalError) as exc:
        raise CanaryError(f"query failed: {exc}") from None


def sql_answer(
    cur: Any, spec: CanarySpec, sql: str, start: datetime, end: datetime
) -> dict[LabelSet, list[tuple[float, float]]]:
    """A `sql` metric: its rows (ts, <label>, value) put on the interval grid of [start, end].

    The query reads `$start` and `$end` (timestamps, bound, never spliced); a row belongs to the
    step t with t - interval < ts <= t, and a group may give at most one row a step (aggregate
    with time_bucket otherwise).  Only a query runs: it is wrapped in a SELECT."""
    import duckdb

    label, step = spec.label, spec.interval.total_seconds()
    wrapped = (
        f'SELECT epoch(ts::TIMESTAMP) AS t, CAST("{label}" AS VARCHAR) AS g, CAST(value AS DOUBLE) AS v '
        f"FROM ({sql}) AS _m WHERE ts > $start - INTERVAL (${{step}}) SECOND AND ts <= $end"
    ).replace("${step}", "$step")
    params: dict[str, Any] = {"start": start, "end": end, "step": step}
    try:
        rows = cur.execute(wrapped, params).fetchall()
    except duckdb.Error as exc:
        first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise CanaryError(f"sql failed: {first} (it must give columns ts, {label}, value)") from None
    origin = (start - _EPOCH).total_seconds()
    out: dict[LabelSet, dict[float, float]] = {}
    for t, group, value in rows:
        if group is None:
            continue
        steps = max(0, -int(-(t - origin) // step))  # the first grid step at or after t
        at = origin + steps * step
        points = out.setdefault(((label, group),), {})
        if at in points:
            raise CanaryError(
                f"sql gives several rows for {label}={group} in the interval ending "
                f"{_moment(at):%Y-%m-%d %H:%M:%S}: one value an interval (aggregate with time_bucket)"
            )
        points[at] = float("nan") if value is None else value
    return {key: sorted(points.items()) for key, points in out.items()}


_EPOCH = datetime(1970, 1, 1)


def _moment(seconds: float) -> datetime:
    from datetime import timedelta

    return _EPOCH + timedelta(seconds=seconds)


def groups(
    answer: dict[LabelSet, list[tuple[float, float]]],
    spec: CanarySpec,
    metric: MetricSpec,
    baseline_version: str,
    canary_version: str,
) -> tuple[np.ndarray, np.ndarray]:
    """The baseline and canary series of one query's answer, as value arrays."""
    import numpy as np

    label = spec.label
    by_version: dict[str, list[list[tuple[float, float]]]] = {}
    for labels, points in answer.items():
        version = dict(labels).get(label)
        if version is not None:
            by_version.setdefault(version, []).append(points)
    if answer and not by_version:
        raise CanaryError(
            f"its series carry no {label!r} label: keep it in the query, e.g. sum by ({label}) (…)"
        )
    out = []
    for version in (baseline_version, canary_version):
        found = by_version.get(version, [])
        if len(found) > 1:
            raise CanaryError(f"gives {len(found)} series for {label}={version}: aggregate by ({label})")
        if not found:
            seen = ", ".join(f"{label}={v}" for v in sorted(by_version)) or "none"
            raise CanaryError(
                f"no series for {label}={version} over the last {_span(spec)} (series found: {seen})"
            )
        points = found[0]
        if len({t for t, _ in points}) < len(points):  # label sets made equal (label_replace, …)
            raise CanaryError(
                f"gives several series with the same labels for {label}={version}: aggregate by ({label})"
            )
        out.append(np.array([value for _, value in points], dtype=float))
    return out[0], out[1]


def _span(spec: CanarySpec) -> str:
    from console.config.durations import format_duration

    return format_duration(spec.lookback)
