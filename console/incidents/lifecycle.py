"""Changing incidents: declaring them, validated transitions, severity, alerts, notes, follow-ups."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from datetime import datetime
from typing import TYPE_CHECKING, Any

from console.core.identity import person
from console.incidents.followups import add_followup as add_followup  # callers read it here
from console.incidents.races import (
    MILESTONE,
    changed_one,
    read_incident,
    read_with_text,
    refuse_repeat,
    settle,
)
from console.incidents.races import AlreadyDone as AlreadyDone  # callers read it here
from console.incidents.records import (
    COLUMNS,
    OPEN_STATUSES,
    STATUSES,
    Incident,
    IncidentError,
    alert_row,
    append_timeline,
    get_incident,
    list_incidents,
    timeline,
)
from console.incidents.records import TimelineEntry as TimelineEntry  # callers read them here
from console.incidents.records import format_span as format_span
from console.incidents.records import mean_times as mean_times

if TYPE_CHECKING:
    from console.store import Store

# status -> the statuses it may move to
TRANSITIONS: dict[str, tuple[str, ...]] = {
    "triggered": ("acknowledged",),
    "acknowledged": ("mitigated", "resolved"),
    "mitigated": ("resolved",),
    "resolved": ("closed",),
    "closed": (),
}
SEVERITIES = ("SEV1", "SEV2", "SEV3", "SEV4")
SEVERITY_FROM_ALERT = {
    "critical": "SEV1",
    "page": "SEV2",
    "ticket": "SEV3",
    "warning": "SEV3",
    "info": "SEV4",
}
DEFAULT_GROUP_BY = ("alertname", "service", "model", "slo")


def suggest_severity(labels: dict[str, str]) -> str:
    """SEV from the alert's `severity` label: page → SEV2, ticket → SEV3; SEV3 if unknown."""
    return SEVERITY_FROM_ALERT.get(str(labels.get("severity", "")).lower(), "SEV3")


def group_key(name: str, labels: dict[str, str], group_by: Iterable[str] = DEFAULT_GROUP_BY) -> str:
    """The alert group an alert belongs to: its name and the grouping labels it carries."""
    merged = {**labels, "alertname": labels.get("alertname", name)}
    return json.dumps({k: merged[k] for k in group_by if merged.get(k)}, sort_keys=True)


def _check_time(incident: Incident, now: datetime) -> None:
    if now < incident.last_milestone():
        raise IncidentError(
            f"incident {incident.id}: {now:%Y-%m-%d %H:%M:%S} is before its last "
            f"milestone ({incident.last_milestone():%Y-%m-%d %H:%M:%S}); "
            "timestamps may not go backwards"
        )


def _check_step(incident: Incident, to_status: str) -> None:
    """Refuse a skipped or backward step of the lifecycle."""
    if to_status not in TRANSITIONS[incident.status]:
        allowed = ", ".join(TRANSITIONS[incident.status]) or "nothing (it is closed)"
        raise IncidentError(
            f"incident {incident.id} is {incident.status}; it can move to {allowed}, not {to_status}"
        )


def declare(
    store: Store,
    title: str,
    *,
    now: datetime,
    actor: str | None,
    severity: str = "SEV3",
    commander: str | None = None,
    alerts: list[str] | None = None,
    key: str | None = None,
    detail: dict[str, Any] | None = None,
) -> Incident:
    """Open a new incident by hand (or for an alert group) and note it in the timeline."""
    if severity not in SEVERITIES:
        raise IncidentError(f"unknown severity {severity!r}; use one of {', '.join(SEVERITIES)}")
    if not title.strip():
        raise IncidentError("an incident needs a title")
    with store.shared.transaction() as cur:
        incident_id = cur.execute("SELECT nextval('incident_id_seq')").fetchall()[0][0]
        cur.execute(
            f"INSERT INTO incidents ({COLUMNS}) VALUES (?, ?, ?, 'triggered', ?, ?, ?, "
            "NULL, NULL, NULL, NULL, ?, ?)",
            [
                incident_id,
                title,
                severity,
                commander,
                key,
                now,
                json.dumps(alerts or []),
                json.dumps(detail or {}, default=str),
            ],
        )
        append_timeline(
            cur,
            incident_id,
            now,
            "declared",
            actor,
            f"incident declared: {title} ({severity})",
            {"severity": severity, "alerts": alerts or [], "group_key": key},
        )
    return get_incident(store, incident_id)


def _open_in_group(store: Store, key: str) -> Incident | None:
    """The open incident of an alert group, the newest if there were several."""
    return next((i for i in list_incidents(store, status=OPEN_STATUSES) if i.group_key == key), None)


def _alert_title(alert: dict[str, Any]) -> str:
    """`name: summary`, or the bare name when the alert has no other summary."""
    summary = alert["annotations"].get("summary") or alert["name"]
    return f"{alert['name']}: {summary}" if summary != alert["name"] else alert["name"]


def declare_from_alert(
    store: Store,
    fingerprint: str,
    *,
    now: datetime,
    actor: str | None,
    split: bool = False,
    severity: str | None = None,
    group_by: Iterable[str] = DEFAULT_GROUP_BY,
) -> tuple[Incident, bool]:
    """The open incident for this alert's group (linking the alert), or a new one.

    Returns (incident, created).  `split=True` always opens a new incident.
    """
    alert = alert_row(store, fingerprint)
    key = group_key(alert["name"], alert["labels"], group_by)
    grouped = None if split else _open_in_group(store, key)
    if grouped is not None:
        link_alert(store, grouped.id, alert["fingerprint"], now=now, actor=actor)
        return get_incident(store, grouped.id), False
    incident = declare(
        store,
        _alert_title(alert),
        now=now,
        actor=actor,
        severity=severity or suggest_severity(alert["labels"]),
        alerts=[alert["fingerprint"]],
        key=key,
        detail={"alert": {k: alert[k] for k in ("name", "labels", "annotations", "fired_at", "value")}},
    )
    if alert.get("fired_at"):
        with store.shared.transaction() as cur:
            append_timeline(
                cur,
                incident.id,
                alert["fired_at"],
                "alert",
                None,
                f"alert fired: {alert['name']}",
                {"fingerprint": alert["fingerprint"], "state": "firing"},
            )
    return incident, True


def _relink(
    store: Store, incident_id: int, fingerprint: str, *, now: datetime, actor: str | None, linked: bool
) -> bool:
    """Link (or split off) one alert if the alerts list is still as read; False if nothing to do."""

    def change() -> bool:
        with store.shared.transaction() as cur:
            incident, raw_alerts, _ = read_with_text(cur, incident_id)
            if (fingerprint in incident.alerts) == linked:
                return False
            alerts = (
                [*incident.alerts, fingerprint]
                if linked
                else [a for a in incident.alerts if a != fingerprint]
            )
            cur.execute(
                "UPDATE incidents SET alerts = ? WHERE id = ? AND alerts IS NOT DISTINCT FROM ?",
                [json.dumps(alerts), incident.id, raw_alerts],
            )
            changed_one(cur)
            text = f"alert {fingerprint} linked" if linked else f"alert {fingerprint} split off"
            append_timeline(cur, incident.id, now, "alert", actor, text, {"fingerprint": fingerprint})
            return True

    return settle(change, f"incident {incident_id}", attempts=5)


def link_alert(
    store: Store, incident_id: int, fingerprint: str, *, now: datetime, actor: str | None
) -> Incident:
    _relink(store, incident_id, fingerprint, now=now, actor=actor, linked=True)
    return get_incident(store, incident_id)


def split_alert(
    store: Store, incident_id: int, fingerprint: str, *, now: datetime, actor: str | None
) -> Incident:
    """Move one alert out of an incident into a new incident of its own."""
    incident = get_incident(store, incident_id)
    if fingerprint not in incident.alerts:
        raise IncidentError(f"alert {fingerprint} is not linked to incident {incident_id}")
    if not _relink(store, incident_id, fingerprint, now=now, actor=actor, linked=False):
        raise IncidentError(f"alert {fingerprint} was split off incident {incident_id} a moment ago")
    new, _ = declare_from_alert(store, fingerprint, now=now, actor=actor, split=True)
    return new


def transition(
    store: Store,
    incident_id: int,
    to_status: str,
    *,
    now: datetime,
    actor: str | None,
    note: str | None = None,
) -> Incident:
    """Move an incident along its lifecycle; refuse skipped steps and backwards time.

    A compare-and-set: of racing moves one wins, the others are told who won and when
    (AlreadyDone when the same person repeats one)."""
    if to_status not in STATUSES:
        raise IncidentError(f"unknown status {to_status!r}; one of {', '.join(STATUSES)}")
    settle(lambda: _move(store, int(incident_id), to_status, now, actor, note), f"incident {incident_id}")
    return get_incident(store, incident_id)


def _move(
    store: Store, incident_id: int, to_status: str, now: datetime, actor: str | None, note: str | None
) -> None:
    with store.shared.transaction() as cur:
        incident = read_incident(cur, incident_id)
        refuse_repeat(cur, incident, to_status, actor)
        _check_step(incident, to_status)
        _check_time(incident, now)
        commander = person(actor) if to_status == "acknowledged" and actor else None
        cur.execute(
            f"UPDATE incidents SET status = ?, {MILESTONE[to_status]} = ?, commander = coalesce(commander, ?) "
            "WHERE id = ? AND status = ?",
            [to_status, now, commander, incident.id, incident.status],
        )
        changed_one(cur)
        append_timeline(
            cur,
            incident.id,
            now,
            "status",
            actor,
            f"{incident.status} → {to_status}" + (f": {note}" if note else ""),
            {"from": incident.status, "to": to_status},
        )


def acknowledge(store: Store, incident_id: int, **kw: Any) -> Incident:
    return transition(store, incident_id, "acknowledged", **kw)


def mitigate(store: Store, incident_id: int, **kw: Any) -> Incident:
    return transition(store, incident_id, "mitigated", **kw)


def resolve(store: Store, incident_id: int, **kw: Any) -> Incident:
    return transition(store, incident_id, "resolved", **kw)


def close(store: Store, incident_id: int, **kw: Any) -> Incident:
    return transition(store, incident_id, "closed", **kw)


def _update(
    store: Store,
    incident_id: int,
    column: str,
    value: Any,
    *,
    now: datetime,
    actor: str | None,
    text: Callable[[Any], str],
) -> Incident:
    """Set one column if it still holds what this transaction read (else read again): the
    timeline's "from" is never stale and no edit is lost."""

    def change() -> None:
        with store.shared.transaction() as cur:
            old = getattr(read_incident(cur, incident_id), column)
            cur.execute(
                f"UPDATE incidents SET {column} = ? WHERE id = ? AND {column} IS NOT DISTINCT FROM ?",
                [value, int(incident_id), old],
            )
            changed_one(cur)
            append_timeline(cur, int(incident_id), now, "edit", actor, text(old), {column: value})

    settle(change, f"incident {incident_id}", attempts=5)
    return get_incident(store, incident_id)


def set_severity(
    store: Store, incident_id: int, severity: str, *, now: datetime, actor: str | None
) -> Incident:
    if severity not in SEVERITIES:
        raise IncidentError(f"unknown severity {severity!r}; use one of {', '.join(SEVERITIES)}")
    return _update(
        store,
        incident_id,
        "severity",
        severity,
        now=now,
        actor=actor,
        text=lambda old: f"severity {old} → {severity}",
    )


def set_commander(
    store: Store, incident_id: int, commander: str, *, now: datetime, actor: str | None
) -> Incident:
    return _update(
        store,
        incident_id,
        "commander",
        commander,
        now=now,
        actor=actor,
        text=lambda old: f"commander: {commander}",
    )


def add_note(store: Store, incident_id: int, text: str, *, now: datetime, actor: str | None) -> None:
    """A manual timeline entry."""
    if not text.strip():
        raise IncidentError("a note needs text")
    get_incident(store, incident_id)
    with store.shared.transaction() as cur:
        append_timeline(cur, int(incident_id), now, "note", actor, text)


def record_alert_events(store: Store, incident_id: int) -> int:
    """Copy linked alerts' fired/resolved transitions into the timeline once; return how many."""
    incident = get_incident(store, incident_id)
    if not incident.alerts:
        return 0
    have = _recorded_alert_events(store, incident.id)
    added = 0
    with store.shared.transaction() as cur:
        for fingerprint, ts, state, name, reason in _alert_transitions(store, incident.alerts):
            if (fingerprint, state, str(ts)) in have:
                continue
            why = f" ({reason})" if reason else ""
            append_timeline(
                cur,
                incident.id,
                ts,
                "alert",
                None,
                f"alert {'fired' if state == 'firing' else 'resolved'}: {name}{why}",
                {"fingerprint": fingerprint, "state": state, "reason": reason},
            )
            added += 1
    return added


def _alert_transitions(store: Store, fingerprints: list[str]) -> list[tuple]:
    """The alerts' firing and resolved transitions, oldest first: fingerprint, ts, state, name, reason."""
    marks = ", ".join("?" for _ in fingerprints)
    return store.shared.query(
        f"SELECT h.fingerprint, h.ts, h.to_state, a.name, h.reason FROM alert_history h "
        f"JOIN alerts a USING (fingerprint) WHERE h.fingerprint IN ({marks}) "
        f"AND h.to_state IN ('firing', 'resolved') ORDER BY h.ts",
        fingerprints,
    )[1]


def _recorded_alert_events(store: Store, incident_id: int) -> set[tuple[Any, Any, str]]:
    """(fingerprint, state, ts) of the alert events already in the timeline."""
    return {
        (e.detail.get("fingerprint"), e.detail.get("state"), str(e.ts))
        for e in timeline(store, incident_id)
        if e.kind == "alert"
    }
