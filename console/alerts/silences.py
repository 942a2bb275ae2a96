"""Silences (label matchers with a start and an end), kept in the store.

The matchers themselves, and inhibition rules, are console/rules/matchers.py.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from console.rules.matchers import Matcher, check_silence_matchers, matches_all
from console.store.audit import write_audit

if TYPE_CHECKING:
    from console.store import Store


@dataclass
class Silence:
    """Alerts whose labels match every matcher are silenced from `starts_at` until `ends_at`."""

    id: str
    matchers: list[Matcher]
    starts_at: datetime
    ends_at: datetime
    created_by: str | None = None
    comment: str | None = None
    source: str = "console"
    external_id: str | None = None
    refused: str | None = None  # why Alertmanager would refuse it: then it mutes nothing

    def active(self, now: datetime) -> bool:
        return self.refused is None and self.starts_at <= now < self.ends_at

    def state(self, now: datetime) -> str:
        if self.refused is not None and now < self.ends_at:
            return "refused"
        return "active" if self.active(now) else ("pending" if now < self.starts_at else "expired")

    def matches(self, labels: Mapping[str, str]) -> bool:
        return matches_all(self.matchers, labels)


def silenced_by(labels: Mapping[str, str], silences: Iterable[Silence], now: datetime) -> list[str]:
    """Ids of the active silences that match these labels."""
    return [s.id for s in silences if s.active(now) and s.matches(labels)]


# -- persistence -------------------------------------------------------------------------


def _row_to_silence(row: tuple) -> Silence:
    """A stored silence; one Alertmanager would refuse (stored by an older oncall) mutes nothing."""
    matchers = [Matcher(m["name"], m["value"], m.get("op", "=")) for m in json.loads(row[1])]
    silence = Silence(row[0], matchers, row[2], row[3], row[4], row[5], row[6] or "console", row[7])
    try:
        check_silence_matchers(matchers)
    except ValueError as exc:
        silence.refused = str(exc)
    return silence


_COLUMNS = "id, matchers, starts_at, ends_at, created_by, comment, source, external_id"


def load_silences(
    store: Store, now: datetime | None = None, *, include_expired: bool = False
) -> list[Silence]:
    """Silences in the store; without `include_expired`, only those not yet ended at `now`."""
    sql = f"SELECT {_COLUMNS} FROM silences"
    params: list[Any] = []
    if not include_expired and now is not None:
        sql += " WHERE ends_at > ?"
        params.append(now)
    _, rows = store.shared.query(sql + " ORDER BY starts_at, id", params)
    return [_row_to_silence(r) for r in rows]


def get_silence(store: Store, silence_id: str) -> Silence | None:
    _, rows = store.shared.query(
        f"SELECT {_COLUMNS} FROM silences WHERE id = ? OR id LIKE ?", [silence_id, silence_id + "%"]
    )
    return _row_to_silence(rows[0]) if len(rows) == 1 else None


def _audit(
    cur: Any,
    now: datetime,
    actor: str | None,
    action: str,
    phase: str,
    target: str,
    reason: str | None,
    params: dict[str, Any],
    result: Any = None,
) -> None:
    """One audit row; `actor` is an `identity.Actor` or a name claimed by this process's account."""
    write_audit(
        cur,
        ts=now,
        actor=actor,
        action=action,
        phase=phase,
        target=target,
        reason=reason,
        params=params,
        result=result,
    )


def create_silence(
    store: Store,
    matchers: list[Matcher],
    starts_at: datetime,
    ends_at: datetime,
    *,
    created_by: str | None,
    comment: str | None,
    now: datetime,
    alertmanager: Any = None,
) -> Silence:
    """Store a silence (audited); with `alertmanager`, create it there too and keep its id.

    A silence Alertmanager would refuse raises ValueError before anything is stored or audited.
    """
    check_silence_matchers(matchers)
    if ends_at <= starts_at:
        raise ValueError("a silence must end after it starts")
    silence = Silence(uuid.uuid4().hex[:12], list(matchers), starts_at, ends_at, created_by, comment)
    params = {
        "matchers": [str(m) for m in matchers],
        "starts_at": starts_at,
        "ends_at": ends_at,
        "comment": comment,
    }
    with store.shared.transaction() as cur:
        _audit(cur, now, created_by, "silence.create", "before", silence.id, comment, params)
    result: dict[str, Any] = {"id": silence.id}
    if alertmanager is not None:
        silence.external_id = alertmanager.create_silence(silence)
        result["alertmanager_id"] = silence.external_id
    with store.shared.transaction() as cur:
        cur.execute(
            f"INSERT INTO silences ({_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            [
                silence.id,
                json.dumps([m.as_dict() for m in matchers]),
                starts_at,
                ends_at,
                created_by,
                comment,
                silence.source,
                silence.external_id,
            ],
        )
        _audit(cur, now, created_by, "silence.create", "after", silence.id, comment, params, result)
    return silence


def expire_silence(
    store: Store, silence: Silence, *, now: datetime, actor: str | None = None, alertmanager: Any = None
) -> Silence:
    """End a silence early (audited); expire its Alertmanager twin too."""
    params = {"ends_at_was": silence.ends_at}
    with store.shared.transaction() as cur:
        _audit(cur, now, actor, "silence.expire", "before", silence.id, None, params)
    if alertmanager is not None and silence.external_id:
        alertmanager.expire_silence(silence.external_id)
    silence.ends_at = min(silence.ends_at, now)
    if silence.starts_at > silence.ends_at:
        silence.starts_at = silence.ends_at
    with store.shared.transaction() as cur:
        cur.execute(
            "UPDATE silences SET ends_at = ?, starts_at = ? WHERE id = ?",
            [silence.ends_at, silence.starts_at, silence.id],
        )
        _audit(
            cur, now, actor, "silence.expire", "after", silence.id, None, params, {"ends_at": silence.ends_at}
        )
    return silence
