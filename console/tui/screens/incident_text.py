"""The incident screen's text: drift lines, the playbook's steps and next step."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from rich.text import Text
from textual.widgets import Static

if TYPE_CHECKING:
    from console.incidents.suspects import DataShift, WhatChanged
    from console.playbooks.context import Preview
    from console.screens.incident import IncidentPage, StepState

DRIFT_LINES = 2  # drifted columns listed above the suspects
STATE_MARK = {
    "current": ("▶", "bold yellow"),
    "pending": ("·", "dim"),
    "passed": ("✓", "green"),
    "done": ("✓", "green"),
    "answered": ("✓", "green"),
    "skipped": ("↷", "dim"),
    "failed": ("✗", "red"),
    "timeout": ("✗", "red"),
}
STEP_VERB = {
    "action": "x plans it, then confirm",
    "command": "x runs it after a confirm",
    "wait_for": "x starts waiting",
}


def drift_lines(what: WhatChanged | None) -> Text:
    """The drifted columns of the incident's model, a line each (at most DRIFT_LINES, then a count)."""
    out = Text()
    shifts: list[DataShift] = getattr(what, "drift", []) if what is not None else []
    for shift in shifts[:DRIFT_LINES]:
        out.append(shift.describe() + "\n", style="magenta")
    if len(shifts) > DRIFT_LINES:
        out.append(f"+{len(shifts) - DRIFT_LINES} more drifted columns · :drift shows them\n", style="dim")
    return out


ESTIMATE_STYLE = {"ok": "", "alert": "bold red", "failed": "bold red", "missing": "yellow"}


def suspects_text(what: WhatChanged | None, estimates: Sequence[Any] = ()) -> Text:
    """The drift lines, the model's CBPE estimates (`incident_estimates.EstimateLine`), then each
    suspect change with its score and why it is suspected."""
    out = drift_lines(what)
    for line in estimates:
        out.append(line.text + "\n", style=ESTIMATE_STYLE.get(line.level, ""))
    for n, suspect in enumerate(what.suspects if what else [], 1):
        change = suspect.change
        out.append(f"{n}. ", style="bold").append(f"{suspect.score:.2f} ", style="bold yellow")
        out.append(change.describe(), style="bold magenta" if suspect.shift else "bold").append(
            f"  {change.ts:%m-%d %H:%M}\n", style="dim"
        )
        out.append(f"   {suspect.explanation}\n")
    if what is not None and not what.suspects:
        out.append("no changes or data drift recorded before this incident", style="dim")
    return out


def steps_text(steps: list[StepState]) -> Text:
    """One line per playbook step: its state's mark, number and title, kind and state."""
    out = Text()
    for n, step in enumerate(steps, 1):
        mark, style = STATE_MARK.get(step.state, ("?", ""))
        label = f"{n}. {step.title}"
        label = label if len(label) <= 32 else label[:31] + "…"
        out.append(f"{mark} ", style=style).append(
            label.ljust(33), style="bold" if step.state == "current" else ""
        )
        said = f' "{step.answer}"' if step.answer is not None else ""
        out.append(f"{step.kind} {step.state}{said}\n", style="dim")
    return out


def _clip(text: str, limit: int) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"


def preview_text(page: IncidentPage) -> Text:
    """The page's problem, the last step's outcome, and the next step as it will run."""
    out = Text()
    if page.problem:
        out.append(page.problem.strip() + "\n", style="red")
    if page.last is not None:
        _append_last(out, page.last)
    preview = page.preview
    if preview is None:
        return out.append("playbook finished", style="bold green") if page.run_status == "done" else out
    return _append_next(out, preview)


def _append_next(out: Text, preview: Preview) -> Text:
    """The next step: its title, what it resolves to, and the key that runs or answers it."""
    out.append("next: ", style="bold").append(f"{preview.title} [{preview.step.kind}]\n")
    if preview.error:
        return out.append(preview.error, style="red")
    _append_resolved(out, preview)
    if preview.question:
        out.append(preview.question + "\n", style="bold")
        out.append("   ".join(f"{n}={a}" for n, a in enumerate(preview.answers, 1)) + "\n")
        return out
    verb = STEP_VERB.get(preview.step.kind, "x runs it")
    return out.append(f"{verb} · s skips", style="dim")


def _append_last(out: Text, last: dict[str, Any]) -> None:
    style = "red" if last["outcome"] in ("failed", "timeout") else "green"
    out.append(f"last: {last['step']} {last['outcome']}", style=style)
    if last.get("error"):
        out.append(f" — {last['error']}", style="red")
    if last["output"].get("reason"):
        out.append(f" · reason: {last['output']['reason']}")
    out.append("\n")


def _append_resolved(out: Text, preview: Preview) -> None:
    """What the next step will run: its query, text, argv or planned action."""
    if preview.sql:
        out.append(f"params: {preview.params}\n", style="cyan")
        out.append(_clip(preview.sql, 160) + "\n", style="cyan")
    if preview.text:
        out.append(_clip(preview.text, 110) + "\n")
    if preview.argv:
        out.append("argv: " + " ".join(repr(a) for a in preview.argv) + "\n", style="cyan")
    if preview.plan is not None:
        out.append(preview.plan.text + "\n", style="yellow")


class CanaryLines(Static):
    """The latest analysis of each canary of the incident's model, under the header (hidden when none)."""

    DEFAULT_CSS = "CanaryLines { height: auto; padding: 0 1; display: none; }"

    def show(self, lines: list[str]) -> None:
        self.update(Text("\n".join(lines), style="bold yellow"))
        self.display = bool(lines)
