"""`drift`: evaluates the workspace's drift windows on the stored prediction records and writes series.

Each run evaluates every window once per `step` of (simulated) time, at the step boundary, and
writes per-column score and drift flag, the dataset's drifted share and verdict, and the quality
shares (`console.drift.stats.result_samples`), so SLOs and alert rules read them like any metric.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from collectors.base import Collector, CollectResult, SourceError
from console.config.durations import parse_duration
from console.drift.config import DriftOptions

if TYPE_CHECKING:
    from console.store import Store

EPOCH = datetime(1970, 1, 1)


def step_start(now: datetime, step: timedelta) -> datetime:
    """`now` rounded down to a multiple of `step` since the epoch."""
    naive = now.replace(tzinfo=None) - (now.utcoffset() or timedelta(0))
    seconds = (naive - EPOCH).total_seconds()
    size = step.total_seconds()
    return EPOCH + timedelta(seconds=(seconds // size) * size)


class StepCollector(Collector):
    """A source that evaluates stored records at every step boundary it has not evaluated yet
    (the latest one only), writing its samples with its cursor in one batch.

    Subclasses give `_evaluate(store, at) -> (sample tables, failures, names)`, and `detail`: the
    key under which `names` (e.g. the models that drifted) go in the result.  What failed fails
    the run after the rest is written; when nothing was written the cursor moves only if nothing
    failed, so a failing evaluation is tried again at the next run."""

    evaluates = True  # reads the prediction records the other sources just stored
    detail = "names"

    def collect(self, store: Store, now: datetime) -> CollectResult:
        step = self.options.step  # type: ignore[attr-defined]
        at = step_start(now, step if isinstance(step, timedelta) else parse_duration(step))
        cursor = store.get_cursor(self.name) or {}
        if cursor.get("last") and datetime.fromisoformat(cursor["last"]) >= at:
            return CollectResult(0, {"skipped": True})
        tables, failures, names = self._evaluate(store, at)
        new_cursor = {"last": at.isoformat()}
        rows = self._write(store, tables, new_cursor, now) if tables else 0
        if failures:
            raise SourceError("; ".join(failures))
        if not tables:
            with store.transaction() as cur:
                store.set_cursor(cur, self.name, new_cursor, 0, now)
        return CollectResult(rows, {"evaluated_at": at.isoformat(), self.detail: names})

    def _write(self, store: Store, tables: list[Any], cursor: dict[str, str], now: datetime) -> int:
        """The samples in one batch, the cursor moved with them."""
        import pyarrow as pa

        from console.store import ingest_samples

        return ingest_samples(store, pa.concat_tables(tables), cursor=(self.name, cursor), now=now)

    def _evaluate(self, store: Store, at: datetime) -> tuple[list[Any], list[str], list[str]]:
        raise NotImplementedError


class DriftCollector(StepCollector):
    """Evaluates each window at every step boundary it has not evaluated yet (the latest one only)."""

    kind = "drift"
    detail = "dataset_drift"
    Options = DriftOptions
    options: DriftOptions

    def _evaluate(self, store: Store, at: datetime) -> tuple[list[Any], list[str], list[str]]:
        """Every window at `at`: the sample tables, what failed (a window, or a column's test: why), the
        models that drifted."""
        from console.drift.stats import result_samples
        from console.drift.windows import WindowError, evaluate_window

        tables, failures, drifted = [], [], []
        for window in self.options.windows:
            try:
                result = evaluate_window(store, window, at, self.base_dir)
            except WindowError as exc:
                failures.append(f"{window.model}: {exc}")
                continue
            tables.append(result_samples(result.drift, window.model, at, result.quality))
            failures.extend(
                f"{window.model}: column {c.column}: {c.note}"
                for c in result.drift.columns
                if c.status == "failed"
            )
            if result.drift.drifted:
                drifted.append(window.model)
        return tables, failures, drifted
