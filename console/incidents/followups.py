"""Follow-ups: the action items a postmortem lists, added from the CLI or the incident screen."""

from __future__ import annotations

import json
from datetime import datetime
from typing import TYPE_CHECKING, Any

from console.incidents.races import changed_one, read_with_text, settle
from console.incidents.records import IncidentError, append_timeline
from console.store.audit import write_audit

if TYPE_CHECKING:
    from console.store import Store

MAX_TEXT = 500


def add_followup(
    store: Store, incident_id: int, text: str, *, now: datetime, actor: str | None, owner: str | None = None
) -> dict[str, Any]:
    """Record one follow-up on the incident, in its timeline and the audit log, in one transaction."""
    text = text.strip()
    if not text:
        raise IncidentError("a follow-up needs text: oncall incident followup ID TEXT")
    if len(text) > MAX_TEXT:
        raise IncidentError(f"a follow-up is at most {MAX_TEXT} characters; this one has {len(text)}")
    item = {"text": text, "owner": owner, "added_at": now.isoformat(), "added_by": actor}

    def change() -> None:  # the detail as this transaction read it, or read again: no follow-up is lost
        with store.shared.transaction() as cur:
            incident, _, raw_detail = read_with_text(cur, incident_id)
            detail = {**incident.detail, "followups": [*followups_of(incident.detail), item]}
            cur.execute(
                "UPDATE incidents SET detail = ? WHERE id = ? AND detail IS NOT DISTINCT FROM ?",
                [json.dumps(detail, default=str), incident.id, raw_detail],
            )
            changed_one(cur)
            append_timeline(cur, incident.id, now, "followup", actor, f"follow-up: {text}", {"owner": owner})
            write_audit(
                cur,
                ts=now,
                actor=actor,
                action="incident.followup",
                phase="after",
                target=f"incident:{incident.id}",
                reason=None,
                params={"text": text, "owner": owner},
                result={"ok": True},
            )

    settle(change, f"incident {incident_id}", attempts=5)
    return item


def followups_of(detail: dict[str, Any]) -> list[dict[str, Any]]:
    """The follow-ups kept in an incident's detail, oldest first."""
    return list(detail.get("followups") or [])
