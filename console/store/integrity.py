"""What a store lost when a WAL did not survive: the findings (recorded by `Store.open`) and
how they read now."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from console.store.journal import pending_cursors, summarize

if TYPE_CHECKING:
    from console.store.db import Store


def _cursors(store: Store) -> dict[str, Any]:
    rows = store.query("SELECT name, cursor FROM collector_state WHERE cursor IS NOT NULL")[1]
    return {name: json.loads(text) for name, text in rows}


def _describe(finding: dict[str, Any]) -> str:
    what = f"{finding['batches']} batch{'es' if finding['batches'] != 1 else ''}, {finding['rows']} rows lost"
    if finding["first_at"]:
        what += f" (committed {_span(finding['first_at'], finding['last_at'])})"
    if finding["sources"]:
        what += f" from {', '.join(finding['sources'])}"
    return what


def _span(first: str, last: str) -> str:
    return first if first == last else f"{first}..{last}"


def integrity_report(store: Store) -> dict[str, Any]:
    """Every finding (recorded ones and ones a reader sees now) with whether it was read again."""
    cursors = _cursors(store)
    findings = _unrecorded(store, cursors) + _recorded(store, cursors)
    for finding in findings:
        finding["text"] = _line(finding)
    lost = [f for f in findings if f["pending"] or f["detected_at"] is None]
    return {"status": "lost" if lost else ("recovered" if findings else "ok"), "findings": findings}


def _unrecorded(store: Store, cursors: dict[str, Any]) -> list[dict[str, Any]]:
    """What this reader sees lost that no writer has recorded yet (at most one finding)."""
    if not store.unrecorded:
        return []
    return [
        {
            "detected_at": None,
            "kind": "wal lost (not yet recorded: the next write records it and keeps the WAL aside)",
            "wal_kept": None,
            "error": None,
            **summarize(store.unrecorded),
            "pending": pending_cursors(store.unrecorded, cursors),
        }
    ]


def _recorded(store: Store, cursors: dict[str, Any]) -> list[dict[str, Any]]:
    """The findings in `store_integrity` (none in a store from before that table)."""
    has_table = store.query(
        "SELECT count(*) FROM information_schema.tables WHERE table_name = 'store_integrity'"
    )[1][0][0]
    if not has_table:
        return []
    rows = store.query("SELECT detected_at, kind, wal_kept, error, lost FROM store_integrity ORDER BY id")[1]
    findings = []
    for detected_at, kind, wal_kept, error, lost_json in rows:
        lost = json.loads(lost_json)
        findings.append(
            {
                "detected_at": detected_at.isoformat(timespec="seconds"),
                "kind": kind,
                "wal_kept": wal_kept,
                "error": error,
                **summarize(lost),
                "pending": pending_cursors(lost, cursors),
            }
        )
    return findings


def _line(finding: dict[str, Any]) -> str:
    text = f"{finding['kind']}: {_describe(finding)}"
    if finding["detected_at"]:
        text += f", found {finding['detected_at']}"
    if finding["wal_kept"]:
        text += f"; WAL kept at {finding['wal_kept']}"
    if finding["error"]:
        text += f"; DuckDB said: {finding['error'].splitlines()[0][:200]}"
    return text + _reread(finding)


def _reread(finding: dict[str, Any]) -> str:
    """Whether the lost batches' sources have read them again, in words."""
    text = ""
    if finding["pending"]:
        text += (
            f"; not read again yet: {', '.join(p.removeprefix('import:') for p in finding['pending'])}"
            " (re-run the same `oncall import`, or let the collectors run)"
        )
    elif any(s != "(no cursor)" for s in finding["sources"]):
        text += "; read again since"
    if "(no cursor)" in finding["sources"]:
        text += "; batches without a cursor cannot be read again"
    return text
