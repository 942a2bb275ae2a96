"""The Drift view's segments section: each `segments` check's groups and fairness, at the session's now."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

from rich.text import Text
from textual.widgets import Static

from console.core.output import cell

if TYPE_CHECKING:
    from textual.widget import Widget

    from console.runtime.session import Session

MAX_GROUPS = 12  # rows a check shows; the rest are counted (`oncall segments` lists them all)
HEADINGS = ("count", "sel", "tpr", "fpr", "acc", "prec")


def load_segments(session: Session) -> list[dict[str, Any]]:
    """Every configured check evaluated at the session's now: its report, or why there is none (headless)."""
    from console.drift.segments import NoRecords, SegmentError, evaluate_segments
    from console.drift.segments_step import segment_checks

    entries = []
    for _, check in segment_checks(session.workspace):
        entry: dict[str, Any] = {"check": check, "report": None, "error": "", "empty": ""}
        try:
            entry["report"] = evaluate_segments(
                session.store,
                check.model,
                check.by,
                session.clock(),
                check.window,
                threshold=check.threshold,
                missing=check.missing,
            )
        except NoRecords as exc:
            entry["empty"] = str(exc)
        except SegmentError as exc:
            entry["error"] = str(exc)
        entries.append(entry)
    return entries


def _number(value: float) -> str:
    return "NaN" if math.isnan(value) else f"{value:.3f}"


def _line(label: str, width: int, numbers: list[str]) -> str:
    return f"  {label[:width]:<{width}} " + " ".join(f"{n:>6}" for n in numbers) + "\n"


def segments_text(entries: list[dict[str, Any]]) -> Text:
    """The checks as text: a heading with the fairness measures, then one line per group."""
    from console.drift.segments import by_text, segment_text

    text = Text()
    for entry in entries:
        check = entry["check"]
        text.append(f"Segments · {cell(check.model)} by {cell(by_text(check.by))}", style="bold")
        report = entry["report"]
        if report is None:
            text.append(
                f": {cell(entry['error'] or entry['empty'])}\n", style="red" if entry["error"] else "yellow"
            )
            continue
        fairness = report.fairness
        text.append(
            f" · {int(report.overall.count)} labelled · demographic parity diff "
            f"{_number(fairness['demographic_parity_difference'])} ratio {_number(fairness['demographic_parity_ratio'])}"
            f" · equalized odds diff {_number(fairness['equalized_odds_difference'])} "
            f"ratio {_number(fairness['equalized_odds_ratio'])}\n"
        )
        labels = [cell(segment_text(report.by, g.values)) for g in report.groups]
        width = min(32, max(len(label) for label in [*labels, "segment"]))
        text.append(_line("segment", width, list(HEADINGS)), style="dim")
        for label, group in list(zip(labels, report.groups, strict=True))[:MAX_GROUPS]:
            count = "NaN" if math.isnan(group.count) else str(int(group.count))
            rates = [group.selection_rate, group.tpr, group.fpr, group.accuracy, group.precision]
            text.append(_line(label, width, [count, *(_number(r) for r in rates)]))
        if len(report.groups) > MAX_GROUPS:
            text.append(
                f"  … {len(report.groups) - MAX_GROUPS} more groups (oncall segments lists them)\n",
                style="dim",
            )
    return text


def draw_segments(view: Widget, entries: list[dict[str, Any]], before: str) -> None:
    """The section in `view`, mounted before the widget `#before` once there is a check to show."""
    found = view.query("#drift-segments")
    if not entries:
        if found:
            found.first().remove()
        return
    if found:
        found.first(Static).update(segments_text(entries))
    else:
        view.mount(Static(segments_text(entries), id="drift-segments"), before=view.query_one(f"#{before}"))
