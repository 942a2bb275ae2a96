"""What an incident is and how it reads back: the incident and timeline rows, queries over them, MTTA/MTTR."""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from console.store import Store

STATUSES = ("triggered", "acknowledged", "mitigated", "resolved", "closed")
OPEN_STATUSES = ("triggered", "acknowledged", "mitigated")
COLUMNS = (
    "id, title, severity, status, commander, group_key, created_at, acked_at, "
    "mitigated_at, resolved_at, closed_at, alerts, detail"
)


class IncidentError(Exception):
    """A refused incident change, with a message fit for one line."""


@dataclass(frozen=True, slots=True)
class Incident:
    """One incident row, with its linked alert fingerprints and free-form detail."""

    id: int
    title: str
    severity: str | None
    status: str
    commander: str | None
    group_key: str | None
    created_at: datetime
    acked_at: datetime | None = None
    mitigated_at: datetime | None = None
    resolved_at: datetime | None = None
    closed_at: datetime | None = None
    alerts: list[str] = field(default_factory=list)
    detail: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def from_row(cls, row: Sequence[Any]) -> Incident:
        """An `incidents` row in COLUMNS order, its JSON columns decoded."""
        (
            id_,
            title,
            severity,
            status,
            commander,
            key,
            created,
            acked,
            mitigated,
            resolved,
            closed,
            alerts,
            detail,
        ) = row
        return cls(
            id=id_,
            title=title,
            severity=severity,
            status=status,
            commander=commander,
            group_key=key,
            created_at=created,
            acked_at=acked,
            mitigated_at=mitigated,
            resolved_at=resolved,
            closed_at=closed,
            alerts=json.loads(alerts or "[]"),
            detail=json.loads(detail or "{}"),
        )

    @property
    def time_to_ack(self) -> timedelta | None:
        """MTTA for this incident: declared → acknowledged."""
        return self.acked_at - self.created_at if self.acked_at else None

    @property
    def time_to_mitigate(self) -> timedelta | None:
        return self.mitigated_at - self.created_at if self.mitigated_at else None

    @property
    def time_to_resolve(self) -> timedelta | None:
        """MTTR for this incident: declared → resolved."""
        return self.resolved_at - self.created_at if self.resolved_at else None

    @property
    def is_open(self) -> bool:
        return self.status in OPEN_STATUSES

    def last_milestone(self) -> datetime:
        return max(
            t
            for t in (self.created_at, self.acked_at, self.mitigated_at, self.resolved_at, self.closed_at)
            if t is not None
        )

    def age(self, now: datetime) -> timedelta:
        return (self.closed_at or self.resolved_at or now) - self.created_at


@dataclass(frozen=True, slots=True)
class TimelineEntry:
    """One append-only timeline row."""

    id: int
    incident_id: int
    ts: datetime
    kind: str
    actor: str | None
    text: str
    detail: dict[str, Any]

    @classmethod
    def from_row(cls, row: Sequence[Any]) -> TimelineEntry:
        """A `timeline` row (id, incident_id, ts, kind, actor, text, detail), its detail decoded."""
        id_, incident_id, ts, kind, actor, text, detail = row
        return cls(
            id=id_,
            incident_id=incident_id,
            ts=ts,
            kind=kind,
            actor=actor,
            text=text,
            detail=json.loads(detail) if detail else {},
        )


def append_timeline(
    cur: Any, incident_id: int, ts: datetime, kind: str, actor: str | None, text: str, detail: Any = None
) -> None:
    """Append one timeline entry inside the caller's transaction (entries are never edited)."""
    cur.execute(
        "INSERT INTO timeline VALUES (nextval('timeline_id_seq'), ?, ?, ?, ?, ?, ?)",
        [incident_id, ts, kind, actor, text, json.dumps(detail, default=str) if detail is not None else None],
    )


def get_incident(store: Store, incident_id: int) -> Incident:
    rows = store.shared.query(f"SELECT {COLUMNS} FROM incidents WHERE id = ?", [int(incident_id)])[1]
    if not rows:
        raise IncidentError(f"no incident {incident_id}; `oncall incident list` shows them")
    return Incident.from_row(rows[0])


def list_incidents(store: Store, *, status: Iterable[str] | None = None) -> list[Incident]:
    """Incidents, newest first; optionally only those in the given statuses."""
    sql, params = f"SELECT {COLUMNS} FROM incidents", []
    wanted = list(status or [])
    if wanted:
        sql += f" WHERE status IN ({', '.join('?' for _ in wanted)})"
        params = wanted
    return [
        Incident.from_row(r)
        for r in store.shared.query(sql + " ORDER BY created_at DESC, id DESC", params)[1]
    ]


def timeline(store: Store, incident_id: int) -> list[TimelineEntry]:
    rows = store.shared.query(
        "SELECT id, incident_id, ts, kind, actor, text, detail FROM timeline "
        "WHERE incident_id = ? ORDER BY ts, id",
        [int(incident_id)],
    )[1]
    return [TimelineEntry.from_row(r) for r in rows]


def alert_row(store: Store, fingerprint: str) -> dict[str, Any]:
    """One row of the `alerts` table as a dict (labels and annotations decoded)."""
    cols, rows = store.shared.query(
        "SELECT fingerprint, source, rule, name, labels, annotations, state, "
        "active_since, fired_at, resolved_at, value FROM alerts "
        "WHERE fingerprint = ? OR fingerprint LIKE ?",
        [fingerprint, fingerprint + "%"],
    )
    if len(rows) != 1:
        raise IncidentError(
            f"{'no' if not rows else 'more than one'} alert matches "
            f"{fingerprint!r}; `oncall alerts` lists fingerprints"
        )
    alert = dict(zip(cols, rows[0]))
    alert["labels"] = json.loads(alert["labels"] or "{}")
    alert["annotations"] = json.loads(alert["annotations"] or "{}")
    return alert


def mean_times(incidents: Iterable[Incident]) -> dict[str, timedelta | None]:
    """MTTA and MTTR over the incidents that reached those milestones."""

    def mean(values: list[timedelta]) -> timedelta | None:
        return sum(values, timedelta()) / len(values) if values else None

    items = list(incidents)
    return {
        "mtta": mean([i.time_to_ack for i in items if i.time_to_ack is not None]),
        "mttr": mean([i.time_to_resolve for i in items if i.time_to_resolve is not None]),
    }


def format_span(span: timedelta | None) -> str:
    """`1h 05m`, `4m 10s`, or `—` when unknown."""
    if span is None:
        return "—"
    seconds = int(span.total_seconds())
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    if hours:
        return f"{hours}h {minutes:02d}m"
    return f"{minutes}m {secs:02d}s" if minutes else f"{secs}s"
