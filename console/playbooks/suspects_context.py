"""The incident's ranked suspects ("what changed") as the templates of a playbook run see them.

`suspects` (best first), `top_suspect` (the first, or None), `new_version` (the best-ranked deploy or
alias move, or None) and `suspects_error` (why they could not be ranked, else "") join the run's context when it starts and stay fixed for the whole run, like the
variables: a decision question names the change the incident screen ranked first.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields
from datetime import datetime
from typing import TYPE_CHECKING, Any

from console.playbooks.context import no_suspects

if TYPE_CHECKING:
    from console.incidents.lifecycle import Incident
    from console.incidents.suspects import Suspect
    from console.playbooks.context import RunContext

SUSPECTS_KEPT = 10  # the run's context keeps this many, best first
KIND_WORDS = {"data_drift": "data shift", "alias_move": "alias move"}


@dataclass(frozen=True)
class SuspectView:
    """One ranked suspect, as a template reads it (`top_suspect.summary`); every value plain text or a number."""

    kind: str  # "deploy", "alias move", "data shift", …
    summary: str  # one line, as the incident screen shows it
    model: str
    version: str
    actor: str
    at: str  # HH:MM UTC
    minutes_before: int  # before the burn onset (or the declaration); negative when after it
    when: str  # minutes_before in words: "12 min before the burn began", "as the incident was declared"
    score: float


SUSPECT_FIELDS = frozenset(f.name for f in fields(SuspectView))


def suspect_view(suspect: Suspect, anchor: datetime, event: str) -> SuspectView:
    """`suspect` in plain values; `anchor` is the burn onset (or the declaration), `event` it in words."""
    change = suspect.change
    minutes = int((anchor - change.ts).total_seconds() // 60)
    return SuspectView(
        kind=KIND_WORDS.get(change.kind, change.kind.replace("_", " ")),
        summary=change.describe(),
        model=change.model or "",
        version=change.version or "",
        actor=change.actor or "",
        at=f"{change.ts:%H:%M}",
        minutes_before=minutes,
        when=_when(minutes, event),
        score=suspect.score,
    )


def _when(minutes: int, event: str) -> str:
    """`minutes` before `event` in words: "12 min before the burn began", "1d 2h before …"."""
    if minutes == 0:
        return f"as {event}"
    span, side = abs(minutes), "before" if minutes > 0 else "after"
    if span < 60:
        words = f"{span} min"
    elif span < 48 * 60:
        words = f"{span // 60}h {span % 60:02d}m"
    else:
        words = f"{span // 1440}d {span % 1440 // 60}h"
    return f"{words} {side} {event}"


def _new_version(suspects: list[Suspect]) -> Suspect | None:
    """The best-ranked suspect that put a version live (a deploy or alias move, not a data shift)."""
    return next((s for s in suspects if s.shift is None and s.change.version), None)


def suspects_context(ctx: RunContext, incident: Incident | None) -> dict[str, Any]:
    """The incident's suspects ranked as the incident screen ranks them; none without an incident."""
    if incident is None:
        return no_suspects()
    from console.incidents.suspects import what_changed

    try:
        found = what_changed(ctx.store, _slos(ctx), incident, ctx.clock(), workspace=ctx.workspace)
    except Exception as exc:  # noqa: BLE001 - another module; the run still starts, and says so
        first = (str(exc).splitlines() or [type(exc).__name__])[0]
        return no_suspects(f"what changed unavailable: {first}")
    anchor = found.onset or found.incident_start
    event = "the burn began" if found.onset else "the incident was declared"
    views = [asdict(suspect_view(s, anchor, event)) for s in found.suspects[:SUSPECTS_KEPT]]
    version = _new_version(found.suspects)
    return {
        "suspects": views,
        "top_suspect": views[0] if views else None,
        "new_version": None if version is None else asdict(suspect_view(version, anchor, event)),
        "suspects_error": "",
    }


def _slos(ctx: RunContext) -> list[Any]:
    """The SLOs the caller passed, else the workspace's SLO files (none without a workspace)."""
    if ctx.slos is not None:
        return list(ctx.slos)
    if ctx.workspace is None:
        return []
    from console.slo.model import load_slos

    return load_slos(ctx.workspace.slo_files)
