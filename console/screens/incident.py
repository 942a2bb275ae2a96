"""Headless data for the incident screens: the incident list, one incident's page, its playbook run."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from console.incidents import lifecycle as incidents

if TYPE_CHECKING:
    from console.store import Store

DONE_OUTCOMES = ("done", "passed", "answered", "skipped")


@dataclass
class IncidentRow:
    """One line of the incidents view."""

    id: int
    severity: str
    status: str
    commander: str
    age: str
    title: str


def incident_rows(store: Store, now: datetime) -> list[IncidentRow]:
    """Open incidents first (newest first), then the rest."""
    found = incidents.list_incidents(store)
    found.sort(key=lambda i: (not i.is_open,))
    return [
        IncidentRow(
            i.id, i.severity or "—", i.status, i.commander or "—", incidents.format_span(i.age(now)), i.title
        )
        for i in found
    ]


def library_dirs(workspace: Any) -> list[Path]:
    """The shipped playbooks plus the workspace's playbook directories."""
    from console.playbooks.loading import SHIPPED_DIR

    dirs = [SHIPPED_DIR] if SHIPPED_DIR.is_dir() else []
    return dirs + [d for d in getattr(workspace, "playbook_dirs", []) if d.resolve() != SHIPPED_DIR]


def playbook_library(workspace: Any) -> dict[str, Any]:
    from console.playbooks.loading import load_library

    return load_library(library_dirs(workspace))[0]


def matched_playbooks(library: dict[str, Any], incident: incidents.Incident) -> list[Any]:
    """Playbooks for the incident's alert, the most specific first."""
    from console.playbooks.matching import match_playbooks

    alert = incident.detail.get("alert") or {}
    if not alert:
        return []
    return match_playbooks(library, alert.get("name", ""), dict(alert.get("labels") or {}))


def latest_run(store: Store, incident_id: int) -> int | None:
    """The incident's newest playbook run (finished or not)."""
    rows = store.shared.query(
        "SELECT id FROM playbook_runs WHERE incident_id = ? ORDER BY id DESC LIMIT 1", [incident_id]
    )[1]
    return int(rows[0][0]) if rows else None


@dataclass
class StepState:
    """A playbook step as the runner panel shows it."""

    id: str
    kind: str
    title: str
    state: str  # current, pending, or the last outcome (passed, failed, …)
    answer: str | None = None  # a decision's answer, when its last outcome is `answered`


def step_states(runner: Any) -> list[StepState]:
    """Every step with its last outcome in this run, and which one is current."""
    last: dict[str, str] = {}
    answers: dict[str, str | None] = {}
    for entry in runner.history:
        last[entry["step"]] = entry["outcome"]
        output = entry.get("output")
        answers[entry["step"]] = output.get("answer") if isinstance(output, dict) else None
    current = runner.current()
    out = []
    for step in runner.playbook.steps:
        if current is not None and step.id == current.id:
            state = "current"
        else:
            state = last.get(step.id, "pending")
        try:
            title = runner.render(step.title or step.id, "title")
        except Exception:  # noqa: BLE001 - a title that cannot render still shows its id
            title = step.title or step.id
        answer = answers.get(step.id) if state == "answered" else None
        out.append(StepState(step.id, step.kind, title, state, answer))
    return out


@dataclass
class IncidentPage:
    """Everything the incident screen draws, loaded off the UI thread."""

    incident: incidents.Incident
    now: datetime
    timeline: list[incidents.TimelineEntry]
    playbook_id: str | None = None
    playbook_title: str = ""
    run_id: int | None = None
    run_status: str | None = None
    steps: list[StepState] = field(default_factory=list)
    preview: Any = None  # runbooks.Preview of the current step
    last: dict[str, Any] | None = None  # the newest history entry (its output is shown)
    what: Any = None  # suspects.WhatChanged
    problem: str | None = None
    canaries: list[str] = field(default_factory=list)  # latest analysis of each canary of its model
    estimates: list[Any] = field(default_factory=list)  # incident_estimates.EstimateLine of its model


def load_page(
    store: Store,
    slos: list[Any],
    incident_id: int,
    now: datetime,
    runner: Any = None,
    playbook: Any = None,
    *,
    with_what: bool = True,
    workspace: Any = None,
) -> IncidentPage:
    """One incident's page: header data, timeline, run state and the preview, what changed (and drift)."""
    incident = incidents.get_incident(store, incident_id)
    page = IncidentPage(incident, now, incidents.timeline(store, incident_id))
    if runner is not None:
        _show_run(page, runner)
    elif playbook is not None:
        _show_playbook(page, playbook)
    if with_what:
        _show_what_changed(page, store, slos, workspace)
    _show_canaries(page, store)
    _show_estimates(page, store, workspace)
    return page


def _show_canaries(page: IncidentPage, store: Store) -> None:
    """The latest analysis of each canary of the incident's model (its alert's `model` label)."""
    from console.screens.canary import incident_canary_lines

    model = ((page.incident.detail.get("alert") or {}).get("labels") or {}).get("model")
    try:
        page.canaries = incident_canary_lines(store, model)
    except Exception as exc:  # noqa: BLE001 - the line says why; the rest still shows
        page.canaries = [f"canary analyses unreadable: {type(exc).__name__}: {exc}"]


def _show_estimates(page: IncidentPage, store: Store, workspace: Any) -> None:
    """The latest CBPE estimates of the incident's model (the one what changed found: its alert's
    `model` label, else its SLO's), a line per metric; none when no source estimates it."""
    from console.screens.incident_estimates import EstimateLine, incident_estimate_lines

    model = getattr(page.what, "model", None)
    model = model or ((page.incident.detail.get("alert") or {}).get("labels") or {}).get("model")
    try:
        page.estimates = incident_estimate_lines(store, workspace, model, page.now)
    except Exception as exc:  # noqa: BLE001 - the line says why; the rest still shows
        page.estimates = [EstimateLine(f"CBPE estimates unreadable: {type(exc).__name__}: {exc}", "failed")]


def _show_run(page: IncidentPage, runner: Any) -> None:
    """A playbook run in progress: its steps, the newest entry, and the current step's preview."""
    page.playbook_id, page.playbook_title = runner.playbook.id, runner.playbook.title
    page.run_id, page.run_status = runner.run_id, runner.status
    page.steps = step_states(runner)
    page.last = runner.history[-1] if runner.history else None
    if runner.current() is not None:
        try:
            page.preview = runner.preview()
        except Exception as exc:  # noqa: BLE001 - shown in the panel instead of crashing
            page.problem = str(exc)


def _show_playbook(page: IncidentPage, playbook: Any) -> None:
    """A playbook not started: every step pending (a templated title shows as its id)."""
    page.playbook_id, page.playbook_title = playbook.id, playbook.title
    page.steps = [
        StepState(s.id, s.kind, s.id if "{{" in (s.title or "{{") else s.title, "pending")
        for s in playbook.steps
    ]


def _show_what_changed(page: IncidentPage, store: Store, slos: list[Any], workspace: Any) -> None:
    from console.incidents.suspects import what_changed

    try:
        page.what = what_changed(store, slos, page.incident, page.now, workspace=workspace)
    except Exception as exc:  # noqa: BLE001 - the panel says why; the rest still shows
        page.problem = (page.problem or "") + f" what changed unavailable: {exc}"
