"""Postmortem sections built from other modules: alerts by name, suspects, decisions, action rows."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from console.core.terminal import escape
from console.incidents.records import Incident, TimelineEntry

if TYPE_CHECKING:
    from console.store import Store

SUSPECTS_SHOWN = 5


def alert_lines(store: Store, incident: Incident) -> list[str]:
    """Each linked alert as `name{label="value", …}` (fingerprint when the alert row is gone)."""
    if not incident.alerts:
        return ["- Alerts: —"]
    marks = ", ".join("?" for _ in incident.alerts)
    rows = store.shared.query(
        f"SELECT fingerprint, name, labels FROM alerts WHERE fingerprint IN ({marks})", list(incident.alerts)
    )[1]
    known = {fp: (name, json.loads(labels or "{}")) for fp, name, labels in rows}
    lines = ["- Alerts:"]
    for fp in incident.alerts:
        if fp not in known:
            lines.append(f"  - {escape(fp)} (alert no longer stored)")
            continue
        name, labels = known[fp]
        shown = ", ".join(f'{k}="{v}"' for k, v in sorted(labels.items()))
        lines.append(f"  - {escape(name)}{{{escape(shown)}}} ({escape(fp[:12])})")
    return lines


def what_changed_lines(suspects: list[Any] | None, error: str | None = None) -> list[str]:
    """The ranked suspects, best first, as the incident screen shows them."""
    lines = ["", "## What changed", ""]
    if error:
        return [*lines, escape(error)]
    if not suspects:
        return [*lines, "No changes or data shifts recorded before the incident."]
    for rank, suspect in enumerate(suspects[:SUSPECTS_SHOWN], 1):
        change = suspect.change
        lines.append(
            f"{rank}. {change.ts:%Y-%m-%d %H:%M:%S} {escape(change.describe())} — score "
            f"{suspect.score:.2f}: {escape(suspect.explanation)}"
        )
    if len(suspects) > SUSPECTS_SHOWN:
        lines.append(f"({len(suspects) - SUSPECTS_SHOWN} more ranked lower)")
    return lines


def decision_lines(entries: list[TimelineEntry]) -> list[str]:
    """Playbook decisions and the answer given to each."""
    lines = ["", "## Decisions", ""]
    answered = [e for e in entries if e.kind == "step" and (e.detail or {}).get("outcome") == "answered"]
    if not answered:
        return [*lines, "No playbook decisions were answered."]
    for entry in answered:
        detail = entry.detail or {}
        question = detail.get("question") or entry.text
        answer = detail.get("answer")
        lines.append(
            f"- {entry.ts:%Y-%m-%d %H:%M:%S} {escape(question)} — answer: "
            f"{escape(answer) if answer is not None else '(not recorded)'}"
            + (f" ({escape(entry.actor)})" if entry.actor else "")
        )
    return lines


def action_lines(actions: list[tuple]) -> list[str]:
    """Audit rows of actions as text: what moved from → to, reason, who, and the result."""
    lines = ["", "## Actions", ""]
    if not actions:
        return [*lines, "No actions were applied."]
    for ts, actor, action, phase, target, reason, params, result in actions:
        lines.append(
            f"- {ts:%Y-%m-%d %H:%M:%S} {escape(action)} ({escape(phase)}) on {escape(target or '—')}"
        )
        change = _from_to(_decoded(params))
        if change:
            lines.append(f"  - change: {change}")
        lines.append(f"  - reason: {escape(reason or '—')}")
        lines.append(f"  - actor: {escape(actor or '—')}")
        lines += [
            f"    {line.strip()}" if line.startswith("  ") else f"  - {line}"
            for line in _result_lines(_decoded(result))
        ]
    return lines


def _decoded(text: Any) -> Any:
    if text is None:
        return None
    try:
        return json.loads(text)
    except (TypeError, ValueError):
        return text


def _from_to(params: Any) -> str:
    if not isinstance(params, dict):
        return ""
    for old, new, prefix in (("from_version", "to_version", "v"), ("old_value", "value", "")):
        if old in params or new in params:
            frm, to = params.get(old), params.get(new)
            return f"{prefix}{escape(frm) if frm is not None else '—'} → {prefix}{escape(to) if to is not None else '—'}"
    return ""


def _result_lines(result: Any) -> list[str]:
    if result is None:
        return []
    if not isinstance(result, dict):
        return [f"result: {escape(result)}"]
    lines: list[str] = []
    for key, value in result.items():
        text = value if isinstance(value, str) else json.dumps(value, default=str, ensure_ascii=False)
        parts = [p.strip() for p in text.splitlines() if p.strip()] or [""]
        lines.append(f"{escape(key)}: {escape(parts[0])}")
        lines += [f"  {escape(p)}" for p in parts[1:]]
    return lines
