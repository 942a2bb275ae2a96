"""Roles: an incident's commander and its responders, changed with a timeline entry and an audit row.

The commander is the `incidents.commander` column (set on the first ack); the responders are a
list of names kept in the incident's detail (`detail["responders"]`), as follow-ups are.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from console.incidents.races import changed_one, read_with_text, settle
from console.incidents.records import Incident, IncidentError, append_timeline
from console.store.audit import write_audit

if TYPE_CHECKING:
    from console.store import Store

MAX_NAME = 100
INPUT_HELP = "commander NAME · +NAME adds a responder · -NAME removes one"


@dataclass(frozen=True, slots=True)
class Assignment:
    """An incident after a change of roles, and what changed (one timeline entry each)."""

    incident: Incident
    changes: list[str]


def check_name(name: str) -> str:
    """A person's name for a role: printable, at most MAX_NAME characters, not an option."""
    text = name.strip()
    if not text:
        raise IncidentError("a role needs a name")
    if not text.isprintable():
        raise IncidentError(f"name {text!r} has a control character; give a printable name")
    if len(text) > MAX_NAME:
        raise IncidentError(f"a name is at most {MAX_NAME} characters; this one has {len(text)}")
    if text.startswith("-"):
        raise IncidentError(f"name {text!r} starts with '-'; give a name, not an option")
    return text


def responders_of(detail: dict[str, Any]) -> list[str]:
    """The responders kept in an incident's detail, in the order they were added."""
    return [str(name) for name in detail.get("responders") or []]


def roles_line(incident: Incident) -> str:
    """`commander: alice · responders: bob, carol` (— for a role nobody holds)."""
    responders = ", ".join(responders_of(incident.detail)) or "—"
    return f"commander: {incident.commander or '—'} · responders: {responders}"


def assign(
    store: Store,
    incident_id: int,
    *,
    commander: str | None = None,
    add_responders: Iterable[str] = (),
    remove_responders: Iterable[str] = (),
    now: datetime,
    actor: str | None,
) -> Assignment:
    """Set the commander and add or remove responders, against the incident as it is when the
    transaction runs; refused whole (nothing written) when a name is bad, the incident is
    closed, or a change is already in effect."""
    wanted = check_name(commander) if commander is not None else None
    adds = _names(add_responders)
    removes = _names(remove_responders)
    both = sorted(set(adds) & set(removes))
    if both:
        raise IncidentError(f"{', '.join(both)}: both added and removed as responder; give one")
    if wanted is None and not adds and not removes:
        raise IncidentError(
            "nothing to assign: give --commander NAME, --responder NAME or --remove-responder NAME"
        )

    def change() -> Assignment:
        with store.shared.transaction() as cur:
            incident, _, raw_detail = read_with_text(cur, incident_id)
            responders, changes = _changed(incident, wanted, adds, removes)
            detail = {**incident.detail, "responders": responders}
            new_commander = wanted if wanted is not None else incident.commander
            # a compare-and-set on what this statement read: a racing assign is read again
            cur.execute(
                "UPDATE incidents SET commander = ?, detail = ? WHERE id = ? "
                "AND commander IS NOT DISTINCT FROM ? AND detail IS NOT DISTINCT FROM ?",
                [new_commander, json.dumps(detail, default=str), incident.id, incident.commander, raw_detail],
            )
            changed_one(cur)
            for text, role in changes:
                append_timeline(cur, incident.id, now, "role", actor, text, role)
            write_audit(
                cur,
                ts=now,
                actor=actor,
                action="incident.assign",
                phase="after",
                target=f"incident:{incident.id}",
                reason=None,
                params={"commander": wanted, "add_responders": adds, "remove_responders": removes},
                result={"ok": True, "commander": new_commander, "responders": responders},
            )
        changed = dataclasses.replace(incident, commander=new_commander, detail=detail)
        return Assignment(changed, [text for text, _ in changes])

    return settle(change, f"incident {incident_id}", attempts=5)


def _names(names: Iterable[str]) -> list[str]:
    """Checked names, each once, in the order given."""
    return list(dict.fromkeys(check_name(n) for n in names))


def _changed(
    incident: Incident, commander: str | None, adds: list[str], removes: list[str]
) -> tuple[list[str], list[tuple[str, dict[str, Any]]]]:
    """The responders after the change, and each change's timeline text and detail."""
    if incident.status == "closed":
        raise IncidentError(f"incident {incident.id} is closed; its roles stay as they were")
    responders = responders_of(incident.detail)
    changes: list[tuple[str, dict[str, Any]]] = []
    if commander is not None:
        if commander == incident.commander:
            raise IncidentError(f"{commander} is already the commander of incident {incident.id}")
        changes.append(
            (
                f"commander {incident.commander or '—'} → {commander}",
                {"role": "commander", "from": incident.commander, "to": commander},
            )
        )
    for name in adds:
        if name in responders:
            raise IncidentError(f"{name} is already a responder of incident {incident.id}")
        responders.append(name)
        changes.append((f"responder {name} added", {"role": "responder", "added": name}))
    for name in removes:
        if name not in responders:
            held = ", ".join(responders) or "none"
            raise IncidentError(f"{name} is not a responder of incident {incident.id} (responders: {held})")
        responders.remove(name)
        changes.append((f"responder {name} removed", {"role": "responder", "removed": name}))
    return responders, changes


def assign_text(store: Store, incident_id: int, text: str, *, now: datetime, actor: str | None) -> Assignment:
    """A change typed in the incident screen: `commander NAME`, `+NAME` or `-NAME`."""
    text = text.strip()
    words = text.split(maxsplit=1)
    if len(words) == 2 and words[0].lower() == "commander":
        return assign(store, incident_id, commander=words[1], now=now, actor=actor)
    if text[:1] == "+":
        return assign(store, incident_id, add_responders=[text[1:]], now=now, actor=actor)
    if text[:1] == "-":
        return assign(store, incident_id, remove_responders=[text[1:]], now=now, actor=actor)
    raise IncidentError(f"{text!r}: type {INPUT_HELP}")
