"""The changes an incident's "what changed" panel weighs: alias moves, deploys, config and data changes."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from console.store import Store

CHANGE_LOOKBACK = timedelta(days=2)  # changes this long before the onset are candidates
DATA_DRIFT = "data_drift"  # the kind of a drift onset ranked among the changes


@dataclass(frozen=True, slots=True)
class Change:
    """One row of `changes`: an alias move, deploy, config or data change."""

    ts: datetime
    kind: str
    model: str | None
    version: str | None
    actor: str | None
    source: str | None
    detail: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def from_row(cls, row: Sequence[Any]) -> Change:
        """A `changes` row (ts, kind, model, version, actor, source, detail), its detail decoded."""
        ts, kind, model, version, actor, source, detail = row
        return cls(
            ts=ts,
            kind=kind,
            model=model,
            version=version,
            actor=actor,
            source=source,
            detail=json.loads(detail) if detail else {},
        )

    def describe(self) -> str:
        if self.kind == DATA_DRIFT:
            return f"data drift: {self.detail.get('column')} ({self.detail.get('verdict')})"
        what = f"{self.kind} {self.model or ''}".strip()
        frm = self.detail.get("from_version")
        if self.version:
            what += f" {'v' + str(frm) + ' → ' if frm else ''}v{self.version}"
        return what + (f" by {self.actor}" if self.actor else "")

    def short(self) -> str:
        """A few words for a chart's marker: an alias move as `champion v3 → v4`, else `describe()`."""
        alias, frm = self.detail.get("alias"), self.detail.get("from_version")
        if self.kind != "alias_move" or not alias or not self.version:
            return self.describe()
        return f"{alias} {'v' + str(frm) + ' → ' if frm else ''}v{self.version}"


def changes_between(store: Store, start: datetime, end: datetime) -> list[Change]:
    rows = store.query(
        "SELECT ts, kind, model, version, actor, source, detail FROM changes "
        "WHERE ts BETWEEN ? AND ? ORDER BY ts",
        [start, end],
    )[1]
    return [Change.from_row(r) for r in rows]
