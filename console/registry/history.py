"""Alias history in the store's `changes` table: record moves, list them, answer "who served at T"."""

from __future__ import annotations

import json
from datetime import datetime
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from console.store import Store

ALIAS_MOVE = "alias_move"


def record_alias_move(
    cur: Any,
    *,
    ts: datetime,
    model: str,
    alias: str,
    from_version: str | None,
    to_version: str | None,
    actor: str | None,
    source: str,
    **detail: Any,
) -> None:
    """Insert one alias move into `changes` inside the caller's transaction."""
    payload = {"alias": alias, "from_version": from_version, "to_version": to_version, **detail}
    cur.execute(
        "INSERT INTO changes (ts, kind, model, version, actor, detail, source) VALUES (?, ?, ?, ?, ?, ?, ?)",
        [ts, ALIAS_MOVE, model, to_version, actor, json.dumps(payload, default=str), source],
    )


_MOVES = """
    SELECT ts, model, json_extract_string(detail, '$.alias') AS alias,
           coalesce(json_extract_string(detail, '$.from_version'),
                    lag(version) OVER (PARTITION BY model, json_extract_string(detail, '$.alias')
                                       ORDER BY ts)) AS from_version,
           version AS to_version, actor,
           json_extract_string(detail, '$.reason') AS reason,
           json_extract_string(detail, '$.action') AS action, source
    FROM changes WHERE kind = 'alias_move'
"""


def alias_history(store: Store, model: str, alias: str | None = None) -> tuple[list[str], list[tuple]]:
    """Every recorded move of a model's aliases, oldest first."""
    sql = f"SELECT * FROM ({_MOVES}) WHERE model = ?"
    params: list[Any] = [model]
    if alias is not None:
        sql += " AND alias = ?"
        params.append(alias)
    return store.query(sql + " ORDER BY ts, alias", params)


def last_recorded(store: Store, model: str, alias: str) -> str | None:
    """The version the latest recorded move put under the alias (None if none or deleted)."""
    rows = alias_history(store, model, alias)[1]
    return rows[-1][4] if rows else None


def holder_at(store: Store, model: str, alias: str, at: datetime) -> tuple[str | None, datetime | None]:
    """Which version held the alias at `at`, and since when, by the recorded moves."""
    rows = [r for r in alias_history(store, model, alias)[1] if r[0] <= at]
    if not rows:
        return None, None
    version = rows[-1][4]
    since = rows[-1][0]
    for row in reversed(rows[:-1]):  # a re-recorded same version extends the stint back
        if row[4] != version:
            break
        since = row[0]
    return version, since


def previous_holder(
    store: Store, model: str, alias: str, current: str, skip: frozenset[str] = frozenset()
) -> tuple[str | None, str]:
    """The version that held the alias before the current one, and how that was decided.

    A version in `skip` (marked bad) is passed over for the holder before it in the history.
    """
    rows = alias_history(store, model, alias)[1]
    version, basis = _previous_holder(rows, current)
    if version is None or version not in skip:
        return version, basis
    for row in reversed(rows):
        for candidate in (row[4], row[3]):
            if candidate is not None and candidate != current and candidate not in skip:
                return candidate, f"alias history, skipping marked {_named(skip)}"
    return None, ""


def _named(versions: frozenset[str]) -> str:
    return ", ".join(f"v{v}" for v in sorted(versions))


def _previous_holder(rows: list[tuple], current: str) -> tuple[str | None, str]:
    if rows and rows[-1][4] != current:
        # The move to `current` was not observed; the last recorded holder came before it.
        return (rows[-1][4], "alias history (last recorded holder)") if rows[-1][4] else (None, "")
    for row in reversed(rows):
        from_version, to_version = row[3], row[4]
        if to_version == current and from_version not in (None, current):
            return from_version, "alias history"
        if to_version != current:
            break
    return None, ""
