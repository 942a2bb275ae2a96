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
        span = (
            finding["first_at"]
            if finding["first_at"] == finding["last_at"]
            else f"{finding['first_at']}..{finding['last_at']}"
        )
        what += f" (committed {span})"
    if finding["sources"]:
        what += f" from {', '.join(finding['sources'])}"
    return what


def integrity_report(store: Store) -> dict[str, Any]:
    """Every finding (recorded ones and ones a reader sees now) with whether it was read again."""
    cursors = _cursors(store)
    findings: list[dict[str, Any]] = []
    if store.unrecorded:
        findings.append(
            {
                "detected_at": None,
                "kind": "wal lost (not yet recorded: the next write records it and keeps the WAL aside)",
                "wal_kept": None,
                "error": None,
                **summarize(store.unrecorded),
                "pending": pending_cursors(store.unrecorded, cursors),
            }
        )
    has_table = store.query(
        "SELECT count(*) FROM information_schema.tables WHERE table_name = 'store_integrity'"
    )[1][0][0]
    if has_table:
        rows = store.query(
            "SELECT detected_at, kind, wal_kept, error, lost FROM store_integrity ORDER BY id"
        )[1]
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
    for finding in findings:
        finding["text"] = _line(finding)
    lost = [f for f in findings if f["pending"] or f["detected_at"] is None]
    return {"status": "lost" if lost else ("recovered" if findings else "ok"), "findings": findings}


def _line(finding: dict[str, Any]) -> str:
    text = f"{finding['kind']}: {_describe(finding)}"
    if finding["detected_at"]:
        text += f", found {finding['detected_at']}"
    if finding["wal_kept"]:
        text += f"; WAL kept at {finding['wal_kept']}"
    if finding["error"]:
        text += f"; DuckDB said: {finding['error'].splitlines()[0][:200]}"
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
