"""Starting, finding and resuming playbook runs in the store."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any

from console.playbooks.context import RunContext, RunError, StepRefused, alert_context, audit
from console.playbooks.lint import argv_findings
from console.playbooks.model import TEMPLATES, Playbook
from console.playbooks.runner import Runner
from console.playbooks.suspects_context import suspects_context

if TYPE_CHECKING:
    from duckdb import DuckDBPyConnection

    from console.incidents.lifecycle import Incident
    from console.store import Store


def _unsafe_steps(playbook: Playbook) -> list[str]:
    """`file:line: step X: argv[i] why` for each command step whose argv is unsafe."""
    return [
        f"{playbook.place(step.id)}: step {step.id}: argv[{found[0][0]}] {found[0][1]}"
        for step in playbook.steps
        if step.kind == "command" and (found := argv_findings(step.argv or [], step.inputs))
    ]


def _refuse_unsafe(ctx: RunContext, playbook: Playbook, incident_id: int | None) -> None:
    """Refuse, and audit as denied, a run of a playbook with an unsafe command step."""
    unsafe = _unsafe_steps(playbook)
    if not unsafe:
        return
    more = f" (and {len(unsafe) - 1} more step(s))" if len(unsafe) > 1 else ""
    message = f"playbook {playbook.id} does not start: {unsafe[0]}{more}; run `oncall playbook lint`"
    with ctx.store.shared.transaction() as cur:
        audit(
            cur,
            ctx.clock(),
            ctx.actor,
            "playbook.start",
            "denied",
            f"playbook:{playbook.id}",
            None,
            {"incident": incident_id, "unsafe": unsafe},
            {"error": message},
        )
    raise StepRefused(message, {"unsafe": unsafe})


def _incident_view(incident: Incident | None) -> dict[str, Any]:
    if incident is None:
        return {}
    return {
        "id": incident.id,
        "title": incident.title,
        "severity": incident.severity,
        "status": incident.status,
        "commander": incident.commander,
        "created_at": str(incident.created_at),
    }


def _run_context(
    playbook: Playbook, incident: Incident | None, alert: dict[str, Any] | None, suspects: dict[str, Any]
) -> dict[str, Any]:
    """The templates' context, fixed for the whole run: alert, incident, suspects, and the variables."""
    view = alert_context(alert)
    context: dict[str, Any] = {
        "alert": view,
        "labels": view["labels"],
        "annotations": view["annotations"],
        "incident": _incident_view(incident),
        **suspects,
        "vars": {},
    }
    for name, template in playbook.variables.items():
        try:
            context["vars"][name] = TEMPLATES.from_string(template).render(context)
        except Exception as exc:  # noqa: BLE001 - jinja raises several kinds; all mean "cannot render"
            raise RunError(
                f"{playbook.file or playbook.id}: variables.{name}: cannot render {template!r}: {exc}"
            ) from None
    return context


def start_run(
    ctx: RunContext,
    playbook: Playbook,
    *,
    incident: Incident | None = None,
    alert: dict[str, Any] | None = None,
) -> Runner:
    """Fix the run's variables from the alert and incident, store the run, and return its runner."""
    if alert is None and incident is not None:
        alert = incident.detail.get("alert")
    incident_id = None if incident is None else incident.id
    _refuse_unsafe(ctx, playbook, incident_id)
    context = _run_context(playbook, incident, alert, suspects_context(ctx, incident))
    now = ctx.clock()
    with ctx.store.shared.transaction() as cur:
        run_id = _insert_run(cur, playbook, incident_id, now, context)
        if incident_id is not None:
            _timeline_start(cur, ctx.actor, incident_id, now, playbook, run_id, context["vars"])
        audit(
            cur,
            now,
            ctx.actor,
            "playbook.start",
            "after",
            f"playbook:{playbook.id}",
            None,
            {"run": run_id, "incident": incident_id, "vars": context["vars"]},
            None,
        )
    return Runner(ctx, playbook, run_id)


def _insert_run(
    cur: DuckDBPyConnection,
    playbook: Playbook,
    incident_id: int | None,
    now: datetime,
    context: dict[str, Any],
) -> int:
    """A new `playbook_runs` row at the first step; its id."""
    import json

    run_id: int = cur.execute("SELECT nextval('playbook_run_id_seq')").fetchall()[0][0]
    cur.execute(
        "INSERT INTO playbook_runs VALUES (?, ?, ?, ?, NULL, 'running', ?, ?, ?)",
        [
            run_id,
            incident_id,
            playbook.id,
            now,
            playbook.steps[0].id,
            json.dumps(context, default=str),
            json.dumps({"history": [], "waiting": {}}),
        ],
    )
    return run_id


def _timeline_start(
    cur: DuckDBPyConnection,
    actor: str,
    incident_id: int,
    now: datetime,
    playbook: Playbook,
    run_id: int,
    variables: dict[str, str],
) -> None:
    from console.incidents.lifecycle import append_timeline

    append_timeline(
        cur,
        incident_id,
        now,
        "playbook",
        actor,
        f"playbook {playbook.id} started: {playbook.title}",
        {"playbook": playbook.id, "run": run_id, "vars": variables},
    )


def find_run(store: Store, *, incident_id: int, playbook_id: str | None = None) -> int | None:
    """The latest unfinished run for an incident (and playbook), if any."""
    sql = "SELECT id FROM playbook_runs WHERE incident_id = ? AND status IN ('running', 'failed')"
    params: list[Any] = [incident_id]
    if playbook_id:
        sql += " AND playbook_id = ?"
        params.append(playbook_id)
    rows = store.shared.query(sql + " ORDER BY id DESC LIMIT 1", params)[1]
    return rows[0][0] if rows else None


def resume_run(ctx: RunContext, library: dict[str, Playbook], run_id: int) -> Runner:
    """The runner for a stored run, at the step where it stopped, with its history."""
    rows = ctx.store.shared.query("SELECT playbook_id FROM playbook_runs WHERE id = ?", [run_id])[1]
    if not rows:
        raise RunError(f"no playbook run {run_id}")
    if rows[0][0] not in library:
        raise RunError(f"run {run_id} follows playbook {rows[0][0]!r}, which is no longer in the library")
    return Runner(ctx, library[rows[0][0]], run_id)
