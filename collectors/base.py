"""The collector contract.

A collector declares its options once, as a pydantic model; the workspace validates a
source's options against it.  Built-ins register through the same entry-point group,
`oncall.collectors`, that a third-party package would use (console/config/plugins.py
finds them).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any, ClassVar

from pydantic import BaseModel, ConfigDict, Field

from collectors.validate import Accept, Refusals, Window

if TYPE_CHECKING:
    from console.store import Store


class CollectorOptions(BaseModel):
    """Base for a collector's options: unknown keys are errors.  `timeout` (seconds) is the
    deadline of one whole run (`collectors.deadline`); HTTP sources default it to 10."""

    model_config = ConfigDict(extra="forbid")

    timeout: float | None = Field(default=None, gt=0)


class TimedOptions(CollectorOptions):
    """Options of a source whose rows carry timestamps from outside: the window they must
    fall in (collectors/validate.py, docs/validation.md)."""

    accept: Accept = Accept()


@dataclass
class CollectResult:
    """What one run of a collector did."""

    rows: int = 0
    detail: dict[str, Any] = field(default_factory=dict)


class Collector:
    """One kind of source.  Subclasses set `kind` and `Options` and implement `collect`."""

    kind: ClassVar[str] = ""
    Options: ClassVar[type[CollectorOptions]] = CollectorOptions
    # The retention kind (RETENTION_KINDS) of the rows whose timestamps come from outside:
    # the default past bound of `accept`.
    retention_kind: ClassVar[str | None] = None
    # True for a collector that evaluates what the others store (drift): in a tick and in
    # `collect --once` it starts once the other sources' runs have ended (`phases`).
    evaluates: ClassVar[bool] = False

    def __init__(self, name: str, options: CollectorOptions, *, base_dir: str = ".") -> None:
        self.name = name
        self.options = options
        self.base_dir = base_dir
        self.retention: dict[str, float] = {}  # the workspace's retention, days per kind
        self.refused = Refusals()  # what the current run refused, by reason

    def window(self, now: datetime) -> Window:
        """The timestamps this source accepts in a run at `now`."""
        accept = getattr(self.options, "accept", None) or Accept()
        kind = self.retention_kind
        return Window.of(accept, now, self.retention.get(kind) if kind else None)

    def collect(self, store: Store, now: datetime) -> CollectResult:  # pragma: no cover
        raise NotImplementedError


class SourceError(Exception):
    """A source failed in an expected way; the message names the source and fits one line."""


UP_SERIES = "oncall_collector_up"


def keep_refused(store: Store, collector: Collector, now: datetime) -> list[dict[str, Any]]:
    """Store what the collector's run refused with its health (console/store/refused.py) and
    start counting again; the entries, each with its `text`."""
    from console.store.refused import record_refused

    entries = collector.refused.entries()
    collector.refused = Refusals()
    with store.transaction() as cur:
        record_refused(cur, collector.name, entries, now)
    return entries


def record_health(store: Store, name: str, ok: bool, now: datetime, error: str | None = None) -> None:
    """Mark a collector healthy or not in collector_state and write its `up` sample."""
    from console.store import canonical_labels, ingest_samples

    if ok:
        with store.transaction() as cur:
            cur.execute(
                """
                INSERT INTO collector_state (name, healthy, last_success, updated_at)
                VALUES (?, true, ?, ?)
                ON CONFLICT (name) DO UPDATE SET healthy = true,
                    last_success = excluded.last_success, updated_at = excluded.updated_at
                """,
                [name, now, now],
            )
    else:
        store.record_failure(name, error or "failed", now)
    import pyarrow as pa

    ingest_samples(
        store,
        pa.table(
            {
                "name": [UP_SERIES],
                "labels": [canonical_labels({"collector": name})],
                "ts": pa.array([now], pa.timestamp("us")),
                "value": [1.0 if ok else 0.0],
            }
        ),
    )
