"""Postmortem export: an incident, its timeline, actions, impact and follow-ups as Markdown.

Text from outside (titles, labels, timeline notes, action results) goes in with its control
characters shown escaped and on one line, so the draft carries no raw escape sequence and a
value cannot add a heading or a table row.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import TYPE_CHECKING, Any

from console.core.terminal import escape
from console.incidents.postmortem_sections import (
    action_lines,
    alert_lines,
    decision_lines,
    what_changed_lines,
)
from console.incidents.records import Incident, TimelineEntry, format_span, get_incident, timeline

if TYPE_CHECKING:
    from console.store import Store


def slo_impact(store: Store, slos: list[Any], start: datetime, end: datetime) -> list[dict[str, Any]]:
    """Each SLO group's error budget burned between `start` and `end` (empty if unavailable)."""
    if not slos:
        return []
    try:
        from console.slo.status import slo_status

        before = {
            (s.slo.name, json.dumps(s.group, sort_keys=True)): s for s in slo_status(store, slos, start)
        }
        after = slo_status(store, slos, end)
    except Exception as exc:  # noqa: BLE001 - another module; the export must still come out
        return [{"error": f"SLO impact unavailable: {str(exc).splitlines()[0]}"}]
    return [
        _impact_row(status, before.get((status.slo.name, json.dumps(status.group, sort_keys=True))))
        for status in after
    ]


def _impact_row(status: Any, was: Any) -> dict[str, Any]:
    """One SLO group's budget before (None if it had no status then) and after, and the difference."""
    remaining_before = was.budget_remaining if was else None
    remaining_after = status.budget_remaining
    burned = (
        remaining_before - remaining_after
        if remaining_before is not None and remaining_after is not None
        else None
    )
    return {
        "slo": status.slo.name,
        "group": status.group,
        "burned": burned,
        "remaining_before": remaining_before,
        "remaining_after": remaining_after,
    }


def _pct(value: float | None) -> str:
    return "—" if value is None else f"{value * 100:.1f}%"


def _burned_shown(row: dict[str, Any]) -> str:
    """The burn as the difference of the two rounded figures shown, so a reader's subtraction holds."""
    before, after = row["remaining_before"], row["remaining_after"]
    if before is None or after is None:
        return _pct(row["burned"])
    return f"{round(before * 100, 1) - round(after * 100, 1):.1f}%"


def _cell(text: Any) -> str:
    """One value in a Markdown table cell: one line, pipes escaped, controls shown escaped."""
    return escape(text if text is not None else "").replace("|", "\\|")


def export_markdown(
    store: Store,
    incident_id: int,
    *,
    now: datetime,
    slos: list[Any] | None = None,
    workspace: Any = None,
) -> str:
    """The postmortem draft for one incident."""
    incident = get_incident(store, incident_id)
    end = incident.resolved_at or incident.mitigated_at or now
    entries = timeline(store, incident.id)
    lines = _summary(incident, alert_lines(store, incident))
    lines += _impact(slo_impact(store, slos or [], incident.created_at, end))
    lines += _what_changed(store, slos or [], incident, now, workspace)
    lines += decision_lines(entries)
    lines += _timeline(entries)
    lines += action_lines(_actions(store, incident.created_at, end))
    lines += _followups(incident.detail.get("followups", []))
    return "\n".join(lines) + "\n"


def _what_changed(
    store: Store, slos: list[Any], incident: Incident, now: datetime, workspace: Any
) -> list[str]:
    """The suspects the incident screen ranks, or why they could not be ranked."""
    from console.incidents.suspects import what_changed

    try:
        found = what_changed(store, slos, incident, now, workspace=workspace)
    except Exception as exc:  # noqa: BLE001 - another module; the export must still come out, saying so
        return what_changed_lines(None, f"What changed unavailable: {str(exc).splitlines()[0]}")
    return what_changed_lines(found.suspects)


def _summary(incident: Incident, alerts: list[str]) -> list[str]:
    return [
        f"# Incident {incident.id}: {escape(incident.title)}",
        "",
        "## Summary",
        "",
        f"- Severity: {incident.severity or '—'}",
        f"- Status: {incident.status}",
        f"- Commander: {escape(incident.commander or '—')}",
        f"- Declared: {incident.created_at:%Y-%m-%d %H:%M:%S} UTC",
        f"- Acknowledged: {_when(incident.acked_at)}",
        f"- Mitigated: {_when(incident.mitigated_at)}",
        f"- Resolved: {_when(incident.resolved_at)}",
        *alerts,
        "",
        "## Response times",
        "",
        f"- Time to acknowledge (MTTA): {format_span(incident.time_to_ack)}",
        f"- Time to mitigate: {format_span(incident.time_to_mitigate)}",
        f"- Time to resolve (MTTR): {format_span(incident.time_to_resolve)}",
    ]


def _impact(impact: list[dict[str, Any]]) -> list[str]:
    lines = ["", "## Impact", ""]
    if not impact:
        lines.append("No SLOs given; impact not computed.")
    for row in impact:
        lines.append(escape(row["error"]) if "error" in row else _impact_line(row))
    return lines


def _impact_line(row: dict[str, Any]) -> str:
    group = escape(", ".join(f"{k}={v}" for k, v in sorted(row["group"].items())))
    return (
        f"- {escape(row['slo'])}{' (' + group + ')' if group else ''}: error budget burned "
        f"during the incident {_burned_shown(row)} (remaining "
        f"{_pct(row['remaining_before'])} → {_pct(row['remaining_after'])})"
    )


def _timeline(entries: list[TimelineEntry]) -> list[str]:
    lines = ["", "## Timeline", "", "| time (UTC) | kind | who | what |", "| --- | --- | --- | --- |"]
    for entry in entries:
        lines.append(
            f"| {entry.ts:%Y-%m-%d %H:%M:%S} | {_cell(entry.kind)} | {_cell(entry.actor or '')} "
            f"| {_cell(entry.text)} |"
        )
    return lines


def _followups(followups: list[dict[str, Any]]) -> list[str]:
    items = [
        f"- [ ] {escape(f['text'])}" + (f" (owner: {escape(f['owner'])})" if f.get("owner") else "")
        for f in followups
    ]
    none = "- [ ] (none recorded yet; add one with `oncall incident followup ID TEXT` or `f` on the incident screen)"
    return ["", "## Follow-ups", "", *(items or [none])]


def _actions(store: Store, start: datetime, end: datetime) -> list[tuple]:
    """Audit rows of world-changing actions during the incident (playbook and incident bookkeeping left out)."""
    return store.shared.query(
        "SELECT ts, actor || coalesce(' (on behalf of ' || on_behalf_of || ')', ''), action, "
        "phase, target, reason, params, result FROM audit "
        "WHERE ts BETWEEN ? AND ? AND action NOT LIKE 'playbook.%' "
        "AND action NOT LIKE 'incident.%' ORDER BY ts, id",
        [start, end],
    )[1]


def _when(moment: Any) -> str:
    return f"{moment:%Y-%m-%d %H:%M:%S} UTC" if moment else "—"
