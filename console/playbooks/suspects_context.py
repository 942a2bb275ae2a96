"""The incident's ranked suspects ("what changed") as the templates of a playbook run see them.

`suspects` (best first), `top_suspect` (the first, or None), `new_version` (the best-ranked deploy
or alias move, or None) and `suspects_error` (why they could not be ranked, else "") join the run's
context when it starts and stay fixed for the whole run, like the variables: a decision question
names the change the incident screen ranked first.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields
from datetime import datetime
from typing import TYPE_CHECKING, Any

from jinja2 import nodes

from console.core.terminal import escape
from console.playbooks.context import no_suspects

if TYPE_CHECKING:
    from console.incidents.lifecycle import Incident
    from console.incidents.suspects import Suspect
    from console.playbooks.context import RunContext

SUSPECTS_KEPT = 10  # the run's context keeps this many, best first
KIND_WORDS = {"data_drift": "data shift", "alias_move": "alias move"}


@dataclass(frozen=True)
class SuspectView:
    """One ranked suspect, as a template reads it (`top_suspect.summary`): plain values, the text from
    outside (actor, model, version) with its control characters shown escaped, as on the screen."""

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


def suspect_view(suspect: Suspect, anchor: datetime, event: str, slack: int = 5) -> SuspectView:
    """`suspect` in plain values; `anchor` is the burn onset (or the declaration), `event` it in words,
    `slack` the minutes either side of it said as "as the burn began"."""
    change = suspect.change
    minutes = int((anchor - change.ts).total_seconds() // 60)
    return SuspectView(
        kind=escape(KIND_WORDS.get(change.kind, change.kind.replace("_", " "))),
        summary=escape(change.describe()),
        model=escape(change.model or ""),
        version=escape(change.version or ""),
        actor=escape(change.actor or ""),
        at=f"{change.ts:%H:%M}",
        minutes_before=minutes,
        when=_when(minutes, event, slack),
        score=suspect.score,
    )


def _when(minutes: int, event: str, slack: int) -> str:
    """`minutes` before `event` in words: "12 min before the burn began", "1d 2h before …"."""
    if -slack <= minutes <= slack:  # as the incident screen says it: one grid step of slack
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
    from console.incidents.suspects import STEP, what_changed

    try:
        found = what_changed(ctx.store, _slos(ctx), incident, ctx.clock(), workspace=ctx.workspace)
    except Exception as exc:  # noqa: BLE001 - another module; the run still starts, and says so
        first = (str(exc).splitlines() or [type(exc).__name__])[0]
        return no_suspects(escape(f"what changed unavailable: {first}"))
    anchor = found.onset or found.incident_start
    event = "the burn began" if found.onset else "the incident was declared"
    slack = int(STEP.total_seconds() // 60)

    def view(suspect: Suspect) -> dict[str, Any]:
        return asdict(suspect_view(suspect, anchor, event, slack))

    views = [view(s) for s in found.suspects[:SUSPECTS_KEPT]]
    version = _new_version(found.suspects)
    return {
        "suspects": views,
        "top_suspect": views[0] if views else None,
        "new_version": None if version is None else view(version),
        "suspects_error": "",
    }


def _slos(ctx: RunContext) -> list[Any]:
    """The SLOs the caller passed, else the workspace's SLO files (none without a workspace)."""
    if ctx.slos is not None:
        return list(ctx.slos)
    if ctx.workspace is None:
        return []
    from console.slo.model import load_slos
    from console.slo.windows import load_window_files

    return load_slos(ctx.workspace.slo_files, load_window_files(ctx.workspace.alert_window_files))


SUSPECT_NAMES = ("top_suspect", "new_version")  # each one suspect (or None); `suspects` a list of them


def unknown_suspect_fields(tree: nodes.Template) -> list[str]:
    """`top_suspect.X`, `suspects[0].X` and `s.X` (for `s` in suspects) whose X a suspect does not have."""
    names = set(SUSPECT_NAMES) | {
        loop.target.name
        for loop in tree.find_all(nodes.For)
        if isinstance(loop.target, nodes.Name) and _is_name(loop.iter, "suspects")
    }
    return [
        f"{_shown(node.node)}.{node.attr}"
        for node in tree.find_all(nodes.Getattr)
        if node.attr not in SUSPECT_FIELDS and _is_suspect(node.node, names)
    ]


def _is_name(node: nodes.Node, *names: str) -> bool:
    return isinstance(node, nodes.Name) and node.name in names


def _is_suspect(node: nodes.Node, names: set[str]) -> bool:
    """`top_suspect`, a loop variable over suspects, or `suspects[...]`."""
    if isinstance(node, nodes.Getitem):
        return _is_name(node.node, "suspects")
    return _is_name(node, *names)


def _shown(node: nodes.Node) -> str:
    if isinstance(node, nodes.Getitem):
        return f"suspects[{getattr(node.arg, 'value', '…')}]"
    return getattr(node, "name", "?")
