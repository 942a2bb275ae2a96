"""Recording rules: one evaluation cycle whose `record:` results go into the store as series.

Rules of a group are evaluated in order, as in Prometheus: a rule that reads the metric an
earlier recording rule of its group records sees that recording's samples of this same cycle.
To keep the batching (`console.rules.evaluation.evaluate`), the cycle is split only where such
a dependency is: every rule is put in the first stage after the recording rules of its group it
reads, each stage is evaluated as one batch, and the samples recorded in a stage are written in
one batch (`console.store.ingest.ingest_samples`) before the next stage runs.  Without a
dependency the cycle is one batch and one write, as without recording rules.

A recording rule writes the result's label sets (minus `__name__`, with the rule's labels set
over them, empty values dropped) as the series `record` at the evaluation time; a result that
errors, repeats a label set or cannot be written gives the rule health `error` and writes
nothing (its earlier samples stay).  A read-only store is never written: each recording rule
then fails, saying so.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

from console.config.promql import DEFAULT_WINDOWS, Windows
from console.rules.evaluation import Instance, RuleResult, evaluate
from console.rules.model import Computed, Rule, Threshold
from console.store.ingest import canonical_labels

if TYPE_CHECKING:
    from console.store import Store


@dataclass
class Cycle:
    """One cycle's results (in the order of the rules given) and what it recorded."""

    results: list[RuleResult]
    recorded: dict[str, int] = field(default_factory=dict)  # rule key -> samples written
    stages: int = 0


def reads(rule: Rule, metric: str) -> bool:
    """Whether `rule`'s expression may read the series `metric` (named as a whole word)."""
    if isinstance(rule.expr, Computed):
        return False
    return _mentions(rule.expr.series if isinstance(rule.expr, Threshold) else rule.expr, metric)


@functools.lru_cache(maxsize=65536)
def _mentions(text: str, metric: str) -> bool:
    return re.search(rf"(?<![A-Za-z0-9_:]){re.escape(metric)}(?![A-Za-z0-9_:])", text) is not None


def stages(rules: list[Rule]) -> list[list[int]]:
    """The rules' indexes by stage: a rule runs in the first stage after every recording rule
    before it in its group whose metric it reads; the others (all of them, without recording
    rules) in the first stage, together."""
    stage_of: list[int] = []
    earlier: dict[str, list[int]] = {}  # group -> indexes of its recording rules so far
    for i, rule in enumerate(rules):
        before = [stage_of[j] + 1 for j in earlier.get(rule.group, []) if reads(rule, rules[j].record or "")]
        stage_of.append(max(before, default=0))
        if rule.record:
            earlier.setdefault(rule.group, []).append(i)
    grouped: list[list[int]] = [[] for _ in range(max(stage_of, default=-1) + 1)]
    for i, stage in enumerate(stage_of):
        grouped[stage].append(i)
    return grouped


Row = tuple[str, str, datetime, float]  # name, canonical labels, ts, value
Sink = Callable[[list[Row]], None]


def evaluate_cycle(
    store: Store,
    rules: list[Rule],
    now: datetime,
    *,
    batched: bool = True,
    sink: Sink | None = None,
    windows: Windows = DEFAULT_WINDOWS,
) -> Cycle:
    """Evaluate `rules` at `now` stage by stage, writing each stage's recordings before the next
    (into the store, or to `sink`: a replay keeps them beside the store)."""
    results: list[RuleResult | None] = [None] * len(rules)
    cycle = Cycle([])
    for indexes in stages(rules):
        cycle.stages += 1
        staged = evaluate(store, [rules[i] for i in indexes], now, batched=batched, windows=windows)
        for i, result in zip(indexes, staged):
            results[i] = result
        cycle.recorded.update(record(store, [r for r in staged if r.rule.record], now, sink))
    cycle.results = [r for r in results if r is not None]
    return cycle


def record(
    store: Store, results: list[RuleResult], now: datetime, sink: Sink | None = None
) -> dict[str, int]:
    """Write the recording rules' results at `now` in one batch; per rule, the samples written.
    A rule that cannot be written gets its error in its result (and writes nothing)."""
    rows: list[Row] = []
    written: dict[str, int] = {}
    for result in results:
        samples = _samples(result)
        if result.error is None:
            rows += [(result.rule.record or "", labels, now, value) for labels, value in samples]
            written[result.rule.key] = len(samples)
    if not written:
        return {}
    if sink is None and store.read_only:
        _fail(results, written, f"not recorded: store {store.snapshot_of or store.path} is open read-only")
        return {}
    try:
        if sink is not None:
            sink(rows)
        else:
            _write(store, rows, now)
    except Exception as exc:  # noqa: BLE001 - a write that fails is each recording rule's error, said
        _fail(results, written, f"not recorded: {_first_cause(exc)}")
        return {}
    return written


def _first_cause(exc: BaseException) -> str:
    """The error that started it (a failed cleanup can raise another one over it)."""
    while exc.__context__ is not None and exc.__cause__ is None:
        exc = exc.__context__
    text = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {text[0] if text else ''}"


def _fail(results: list[RuleResult], keys: dict[str, int], error: str) -> None:
    for result in results:
        if result.rule.key in keys:
            result.error = error


def _write(store: Store, rows: list[Row], now: datetime) -> None:
    import pyarrow as pa

    from console.core import arrays
    from console.store.ingest import SAMPLE_SCHEMA, ingest_samples

    if rows:  # Arrow, not pandas: a NaN result is recorded as NaN, never as a stale marker
        names, labels, times, values = zip(*rows, strict=True)
        table = arrays.table(
            {
                "name": arrays.strings(names),
                "labels": arrays.strings(labels),
                "ts": arrays.column(times, pa.timestamp("us")),
                "value": arrays.column(values, pa.float64()),
            },
            schema=SAMPLE_SCHEMA,
        )
        ingest_samples(store, table, now=now)


def series_labels(rule: Rule, instance: Instance) -> dict[str, str]:
    """The labels a recorded sample gets: the result's without `__name__`, the rule's set over
    them, empty values dropped."""
    labels: dict[str, Any] = {k: v for k, v in instance.labels.items() if k != "__name__"}
    labels.update(rule.labels)
    return {k: str(v) for k, v in labels.items() if v is not None and str(v) != ""}


def _samples(result: RuleResult) -> list[tuple[str, float]]:
    """A recording rule's (canonical labels, value) to write; sets `result.error` (and returns
    nothing) when two rows have the same label set.  Rows without a number are not written."""
    if result.error is not None:
        return []
    seen: dict[str, float] = {}
    for instance in result.instances:
        key = canonical_labels(series_labels(result.rule, instance))
        if key in seen:
            result.error = f"the result has the label set {key} more than once; nothing recorded"
            return []
        if instance.value is not None:
            seen[key] = instance.value
    return list(seen.items())
