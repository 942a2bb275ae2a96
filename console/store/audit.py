"""The append-only audit log: one row per phase of an action, refused attempts included.

Each row names the OS account that acted (`actor`, `uid`) and, apart, whom it claimed to
act for (`on_behalf_of`); see `console.core.identity`.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import TYPE_CHECKING, Any

from console.core.identity import as_actor

if TYPE_CHECKING:
    from console.store.db import Store

DENIED = "denied"


def write_audit(
    cur: Any,
    *,
    ts: datetime,
    actor: str | None,
    action: str,
    phase: str,
    target: str | None,
    reason: str | None,
    params: Any,
    result: Any,
) -> None:
    """Append one audit row inside the caller's transaction."""
    who = as_actor(actor)
    cur.execute(
        "INSERT INTO audit (id, ts, actor, uid, on_behalf_of, action, phase, target, "
        "reason, params, result) VALUES (nextval('audit_id_seq'), ?, ?, ?, ?, ?, ?, ?, "
        "?, ?, ?)",
        [
            ts,
            who.name,
            who.uid,
            who.on_behalf_of,
            action,
            phase,
            target,
            reason,
            json.dumps(params, default=str) if params is not None else None,
            json.dumps(result, default=str) if result is not None else None,
        ],
    )


def write_denied(
    cur: Any,
    *,
    ts: datetime,
    actor: str | None,
    action: str,
    target: str | None,
    why: str,
    reason: str | None = None,
    params: Any = None,
) -> None:
    """Append a refused attempt (phase `denied`, `why` as the result's error) in `cur`."""
    write_audit(
        cur,
        ts=ts,
        actor=actor,
        action=action,
        phase=DENIED,
        target=target,
        reason=reason,
        params=params,
        result={"ok": False, "error": why},
    )


def audit_denied(
    store: Store,
    *,
    ts: datetime,
    actor: str | None,
    action: str,
    target: str | None,
    why: str,
    reason: str | None = None,
    params: Any = None,
) -> bool:
    """Record a refused attempt in its own transaction; False when the store is read-only."""
    if getattr(store, "read_only", False):
        return False
    with store.shared.transaction() as cur:
        write_denied(
            cur, ts=ts, actor=actor, action=action, target=target, why=why, reason=reason, params=params
        )
    return True


def list_audit(
    store: Store, *, action: str | None = None, phase: str | None = None, limit: int = 100
) -> list[dict[str, Any]]:
    """The newest audit rows (optionally of one action or phase), oldest of them first."""
    where, values = [], []
    for column, value in (("action", action), ("phase", phase)):
        if value:
            where.append(f"{column} = ?")
            values.append(value)
    sql = (
        "SELECT id, ts, actor, uid, on_behalf_of, action, phase, target, reason, params, "
        "result FROM audit" + (" WHERE " + " AND ".join(where) if where else "") + " ORDER BY id DESC LIMIT ?"
    )
    columns, rows = store.shared.query(sql, [*values, int(limit)])
    return [dict(zip(columns, row)) for row in reversed(rows)]


def who(row: dict[str, Any]) -> str:
    """An audit row's actor as text: `root (on behalf of alice)`."""
    name = row.get("actor") or "?"
    return f"{name} (on behalf of {row['on_behalf_of']})" if row.get("on_behalf_of") else name
