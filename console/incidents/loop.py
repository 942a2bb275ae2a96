"""The engine's incident step: declare incidents for paging alerts and keep their timelines current."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING

from console.incidents import lifecycle as incidents
from console.incidents.events import Event

if TYPE_CHECKING:
    from console.store import Store

AUTO_ACTOR = "oncall (auto)"
PAGE = "page"


@dataclass
class IncidentNews:
    """What the incident step did this cycle: a declared incident, a linked alert, or a failure."""

    ts: datetime
    text: str
    incident_id: int | None = None
    created: bool = False


def _paging_alerts(store: Store) -> list[tuple[str, datetime | None]]:
    """Firing alerts whose severity label is `page` and that nothing mutes: (fingerprint, fired_at).

    As Alertmanager notifies no alert a silence or an inhibition mutes, a muted page opens
    no incident.
    """
    rows = store.shared.query(
        "SELECT fingerprint, fired_at, labels, silenced_by, inhibited_by FROM alerts "
        "WHERE state = 'firing' ORDER BY fired_at NULLS LAST, fingerprint"
    )[1]
    return [
        (fingerprint, fired_at)
        for fingerprint, fired_at, labels, silenced_by, inhibited_by in rows
        if str(json.loads(labels or "{}").get("severity", "")).lower() == PAGE
        and not _muted(silenced_by)
        and not _muted(inhibited_by)
    ]


def _muted(by: str | None) -> bool:
    """Whether a stored JSON list of silence ids or inhibiting fingerprints names any."""
    return bool(by and json.loads(by))


def _covered(all_incidents: list[incidents.Incident], fingerprint: str, fired_at: datetime | None) -> bool:
    """Whether an incident already answers this firing (linked to it since it fired)."""
    for incident in all_incidents:
        if fingerprint not in incident.alerts:
            continue
        if incident.is_open or fired_at is None or incident.created_at >= fired_at:
            return True
    return False


def run_incident_cycle(store: Store, now: datetime, *, actor: str = AUTO_ACTOR) -> list[IncidentNews]:
    """Declare (or link into its group's open incident) every uncovered paging alert; copy alert events.

    One incident per alert group: `declare_from_alert` links an alert to the open incident
    of its group instead of opening another.  Alert fired/resolved transitions of every open
    incident's alerts are copied into its timeline (once each).
    """
    news: list[IncidentNews] = []
    known = incidents.list_incidents(store)
    for fingerprint, fired_at in _paging_alerts(store):
        if _covered(known, fingerprint, fired_at):
            continue
        incident, created = incidents.declare_from_alert(store, fingerprint, now=now, actor=actor)
        verb = "declared" if created else "linked to"
        news.append(
            IncidentNews(now, f"incident {incident.id} {verb}: {incident.title}", incident.id, created)
        )
        known = incidents.list_incidents(store)
    _copy_alert_events(store, known)
    return news


def _copy_alert_events(store: Store, known: list[incidents.Incident]) -> None:
    for incident in known:
        if incident.is_open and incident.alerts:
            incidents.record_alert_events(store, incident.id)


def engine_events(store: Store, now: datetime) -> list[Event]:
    """The incident step as engine events; a failure here is reported, never raised into the tick,
    except a lost evaluator lease (the engine says it: nothing was written)."""
    from console.team.lease import LeaseLost

    try:
        news = run_incident_cycle(store, now)
    except LeaseLost:
        raise
    except Exception as exc:  # noqa: BLE001 - the engine must keep ticking; the event says why
        return [Event(now, "incident", f"incident step failed: {type(exc).__name__}: {exc}")]
    return [Event(n.ts, "incident", n.text, {"incident": n.incident_id, "created": n.created}) for n in news]
