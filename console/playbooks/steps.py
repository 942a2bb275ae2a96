"""How query and command steps run: one SELECT on the store, one program without a shell."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, NamedTuple

from console.playbooks.context import OUTPUT_LIMIT, ROW_LIMIT, RunContext, RunError, redact_secrets

if TYPE_CHECKING:
    from console.store import Store


@dataclass(frozen=True)
class Given:
    """What the person running the step gave with it: an answer, a reason, the typed name."""

    answer: str | None = None
    reason: str | None = None
    typed_name: str | None = None


class StepResult(NamedTuple):
    """What running a step gave: its outcome, its output, and why it failed (None if it did not)."""

    outcome: str  # done, passed, failed, answered, timeout, skipped
    output: dict[str, Any]
    error: str | None = None

    @property
    def failed(self) -> bool:
        return self.outcome in ("failed", "timeout")


def select_only(sql: str) -> str | None:
    """Why `sql` may not run as a query step (not exactly one SELECT), or None."""
    import duckdb

    try:
        statements = duckdb.extract_statements(sql)
    except duckdb.Error as exc:
        return f"bad SQL: {str(exc).splitlines()[0]}"
    if len(statements) != 1 or str(statements[0].type) != "StatementType.SELECT":
        return "a query step runs exactly one SELECT; it may not change the store"
    return None


def run_query(store: Store, step_id: str, sql: str, params: list[str]) -> tuple[list[tuple], dict[str, Any]]:
    """The first ROW_LIMIT rows of one SELECT, and the output the step records."""
    cur = store.cursor()
    try:
        cur.execute(sql, params)
        columns = [d[0] for d in cur.description or []]
        rows = cur.fetchmany(ROW_LIMIT)
    except Exception as exc:  # noqa: BLE001 - DuckDB raises many kinds; all are the query's
        raise RunError(f"step {step_id}: query failed: {str(exc).splitlines()[0]}") from None
    finally:
        cur.close()
    return rows, {"columns": columns, "rows": [list(r) for r in rows], "params": params}


def run_command(argv: list[str], timeout: float, secrets: list[str]) -> StepResult:
    """Run `argv` without a shell or stdin; its output's tail is kept, secrets shown as ***."""
    import subprocess

    from console.core.private import child_umask

    displayed = [redact_secrets(a, secrets) for a in argv]
    output: dict[str, Any] = {"argv": displayed}
    try:
        done = subprocess.run(
            argv,
            shell=False,
            capture_output=True,
            text=True,
            errors="replace",
            stdin=subprocess.DEVNULL,
            timeout=timeout,
            umask=child_umask(),
        )  # the user's own, not oncall's 077
    except subprocess.TimeoutExpired as exc:
        output.update(_tails(exc.stdout, exc.stderr, secrets))
        return StepResult("failed", output, f"timed out after {timeout:g}s")
    except (OSError, ValueError, UnicodeError) as exc:
        return StepResult("failed", output, f"could not start {displayed[0]!r}: {exc}")
    output["returncode"] = done.returncode
    output.update(_tails(done.stdout, done.stderr, secrets))
    if done.returncode != 0:
        return StepResult("failed", output, f"exited {done.returncode}")
    return StepResult("passed", output)


def _tails(stdout: str | bytes | None, stderr: str | bytes | None, secrets: list[str]) -> dict[str, str]:
    """The last OUTPUT_LIMIT characters of each stream, secrets masked."""
    streams = (("stdout", stdout), ("stderr", stderr))
    return {name: redact_secrets(_text(data)[-OUTPUT_LIMIT:], secrets) for name, data in streams}


def _text(data: str | bytes | None) -> str:
    if isinstance(data, bytes):
        return data.decode(errors="replace")
    return data or ""


def answered(result: StepResult) -> dict[str, Any]:
    """A decision's answer and its rendered question, for the timeline's detail (postmortem reads them)."""
    if result.outcome != "answered":
        return {}
    return {"answer": result.output.get("answer"), "question": result.output.get("question")}


# a step's `incident:` verb -> the status it moves the incident to
INCIDENT_TO = {"acknowledge": "acknowledged", "mitigate": "mitigated", "resolve": "resolved"}


def move_incident(ctx: RunContext, incident_id: int | None, verb: str, note: str) -> StepResult:
    """Move the run's incident through its lifecycle; a refused move fails the step, saying why.

    A triggered incident is acknowledged on the way to mitigated or resolved: whoever runs the
    playbook has taken it (as acting on a PagerDuty incident acknowledges it)."""
    from console.incidents.lifecycle import IncidentError, get_incident, transition

    if incident_id is None:
        return StepResult("failed", {}, f"no incident to {verb}: run the playbook with --incident ID")
    target = INCIDENT_TO[verb]
    try:
        if target != "acknowledged" and get_incident(ctx.store, incident_id).status == "triggered":
            transition(
                ctx.store,
                incident_id,
                "acknowledged",
                now=ctx.clock(),
                actor=ctx.actor,
                note=f"{note}, to {verb}",
            )
        moved = transition(ctx.store, incident_id, target, now=ctx.clock(), actor=ctx.actor, note=note)
    except IncidentError as exc:
        return StepResult("failed", {}, str(exc))
    return StepResult("done", {"incident": incident_id, "status": moved.status})
