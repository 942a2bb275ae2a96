"""Rows a collector refused (timestamp outside its window, value that does not parse), kept
with the source's health: the last run's counts by reason, and totals since the first run.
`collect --status`, `collect --once` and the Overview show them (docs/validation.md).
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from typing import Any

from console.config.durations import format_duration, rough_duration


def _span(entry: dict[str, Any]) -> str:
    least, most = rough_duration(entry["least"]), rough_duration(entry["most"])
    return least if least == most else f"{least} to {most}"


def entry_text(entry: dict[str, Any]) -> str:
    """`3 refused: timestamp 2h in the future (limit 10m)`, `1 refused: value does not parse`."""
    what, why = entry["what"], entry["why"]
    if why in ("future", "past") and "least" in entry:
        limit = f" (limit {_limit(entry['limit'])})" if "limit" in entry else ""
        how = f"{_span(entry)} in the {why}{limit}"
    else:
        how = "does not parse"
    return f"{entry['count']} refused: {what} {how}"


def _limit(seconds: float) -> str:
    return format_duration(timedelta(seconds=seconds))


def record_refused(cur: Any, name: str, entries: list[dict[str, Any]], now: datetime) -> None:
    """Replace the last run's refusals and add them to the totals, in the caller's transaction."""
    row = cur.execute("SELECT refused FROM collector_state WHERE name = ?", [name]).fetchone()
    previous = json.loads(row[0]) if row and row[0] else {}
    if not entries and not previous.get("last"):
        return
    totals = _add_counts(dict(previous.get("total", {})), entries)
    kept = {"at": now.isoformat(sep=" ", timespec="seconds"), "last": entries, "total": totals}
    if row is None:
        cur.execute(
            "INSERT INTO collector_state (name, refused, updated_at) VALUES (?, ?, ?)",
            [name, json.dumps(kept), now],
        )
    else:
        cur.execute("UPDATE collector_state SET refused = ? WHERE name = ?", [json.dumps(kept), name])


def _add_counts(totals: dict[str, int], entries: list[dict[str, Any]]) -> dict[str, int]:
    """The running totals by "what why", this run's refusals added."""
    for entry in entries:
        key = f"{entry['what']} {entry['why']}"
        totals[key] = totals.get(key, 0) + entry["count"]
    return totals


def refused_text(raw: str | None) -> str:
    """The last run's refusals as one line (empty when it refused nothing)."""
    if not raw:
        return ""
    return "; ".join(entry["text"] for entry in json.loads(raw).get("last", []))


def refused_json(raw: str | None) -> dict[str, Any]:
    """The last run's refusals and the totals by reason, for `--format json`."""
    kept = json.loads(raw) if raw else {}
    return {"last_run": kept.get("last", []), "total": kept.get("total", {})}
