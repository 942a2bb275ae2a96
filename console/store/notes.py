"""A collector's notes: what the engineer should know though the source is healthy.

`standing` notes hold while their cause does (compressed files left unread) and are
replaced every run; `events` happened once (a file truncated with no copy found) and the
last few are kept, with when.  `collect --status` and the Overview show them.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

KEPT_EVENTS = 5


def record_notes(cur: Any, name: str, standing: list[str], events: list[str], now: datetime) -> None:
    """Replace the standing notes and add the events, inside the caller's transaction."""
    row = cur.execute("SELECT notes FROM collector_state WHERE name = ?", [name]).fetchone()
    previous = json.loads(row[0]) if row and row[0] else {}
    kept = previous.get("events", []) + [
        {"at": now.isoformat(sep=" ", timespec="seconds"), "text": text} for text in events
    ]
    notes = {"standing": standing, "events": kept[-KEPT_EVENTS:]}
    if row is None:
        cur.execute(
            "INSERT INTO collector_state (name, notes, updated_at) VALUES (?, ?, ?)",
            [name, json.dumps(notes), now],
        )
    elif notes != previous:
        cur.execute("UPDATE collector_state SET notes = ? WHERE name = ?", [json.dumps(notes), name])


def notes_text(raw: str | None) -> str:
    """The notes as one line: standing notes, then the events with their time."""
    if not raw:
        return ""
    notes = json.loads(raw)
    events = [f"{e['at']}: {e['text']}" for e in notes.get("events", [])]
    return "; ".join([*notes.get("standing", []), *events])
