"""Rollback memory: a version an alias was rolled back away from is marked bad in the store.

Like Argo Rollouts' aborted revision: the next rollback or promote does not propose a marked
version, and naming one needs `--force`.  A deliberate promote of it clears the mark.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from console.registry.base import version_key

if TYPE_CHECKING:
    from console.store import Store


@dataclass(frozen=True)
class Mark:
    """A standing mark on one version of a model."""

    model: str
    version: str
    incident_id: int | None
    reason: str | None
    actor: str | None
    ts: datetime

    def text(self) -> str:
        """One line for a plan or a listing."""
        where = f" in incident #{self.incident_id}" if self.incident_id is not None else ""
        why = f" ({self.reason})" if self.reason else ""
        return (
            f"v{self.version} is marked bad: rolled away from{where} by {self.actor or 'unknown'} "
            f"at {self.ts:%Y-%m-%d %H:%M:%S}{why}"
        )

    def as_dict(self) -> dict[str, Any]:
        return {
            "version": self.version,
            "incident_id": self.incident_id,
            "reason": self.reason,
            "actor": self.actor,
            "ts": self.ts,
        }


_ACTIVE = """
    SELECT model, version, incident_id, reason, actor, ts FROM version_marks
    WHERE model = ? AND cleared_at IS NULL ORDER BY ts
"""


def marks(store: Store, model: str) -> dict[str, Mark]:
    """The model's standing marks by version (the latest mark of a version wins)."""
    rows = store.shared.query(_ACTIVE, [model])[1]
    return {r[1]: Mark(r[0], r[1], None if r[2] is None else int(r[2]), r[3], r[4], r[5]) for r in rows}


def mark_bad(
    cur: Any,
    *,
    ts: datetime,
    model: str,
    version: str,
    registry: str | None,
    incident_id: int | None,
    reason: str | None,
    actor: str | None,
) -> None:
    """Mark a version bad inside the caller's transaction (a standing mark is replaced)."""
    cur.execute(
        "DELETE FROM version_marks WHERE model = ? AND version = ? AND cleared_at IS NULL", [model, version]
    )
    cur.execute(
        "INSERT INTO version_marks (model, version, registry, incident_id, reason, actor, ts) "
        "VALUES (?, ?, ?, ?, ?, ?, ?)",
        [model, version, registry, incident_id, reason, actor, ts],
    )


def clear_mark(cur: Any, *, ts: datetime, model: str, version: str, actor: str, reason: str) -> None:
    """Clear a version's standing mark inside the caller's transaction; the row is kept."""
    cur.execute(
        "UPDATE version_marks SET cleared_at = ?, cleared_by = ?, cleared_reason = ? "
        "WHERE model = ? AND version = ? AND cleared_at IS NULL",
        [ts, actor, reason, model, version],
    )


def named(standing: dict[str, Mark]) -> str:
    """The marked versions, in version order: `v2, v3`."""
    return ", ".join(f"v{v}" for v in sorted(standing, key=version_key))


def refusal(model: str, standing: dict[str, Mark]) -> str:
    """The one line said when every candidate version is marked."""
    return (
        f"{model}: no unmarked version to roll back to (marked bad: {named(standing)}); "
        f"name one with --to VERSION --force"
    )
