"""Walks one playbook run step by step.

Its state lives in the store's `playbook_runs` table: a run survives a restart where it stopped.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import datetime
from typing import TYPE_CHECKING, Any

import console.playbooks.steps as ran
from console.playbooks import claims
from console.playbooks.args import ArgumentRefused, Input, check_value, input_ref, shown
from console.playbooks.context import (
    ActionUnavailable,
    Outcome,
    PlannedAction,
    Preview,
    RenderError,
    RunContext,
    RunError,
    StepRefused,
    audit,
    brief,
    redact_secrets,
    stored_context,
)
from console.playbooks.kinds import planner_for
from console.playbooks.lint import argv_findings
from console.playbooks.model import END, TEMPLATES, Playbook, Step
from console.playbooks.steps import Given, StepResult, answered, run_command, run_query, select_only

if TYPE_CHECKING:
    from duckdb import DuckDBPyConnection


class Runner:
    """Walks one playbook run step by step; every outcome lands in the store."""

    def __init__(self, ctx: RunContext, playbook: Playbook, run_id: int) -> None:
        self.ctx, self.playbook, self.run_id = ctx, playbook, run_id
        self._plan: tuple[str, PlannedAction] | None = None
        self._load()

    # -- state ---------------------------------------------------------------------------

    def _load(self) -> None:
        rows = self.ctx.store.shared.query(
            "SELECT incident_id, status, current_step, variables, state FROM playbook_runs WHERE id = ?",
            [self.run_id],
        )[1]
        if not rows:
            raise RunError(f"no playbook run {self.run_id}")
        self.incident_id, self.status, self.current_step, variables, state = rows[0]
        self.seen = state  # the state text as last read or written: the run's version (claims.py)
        self.context: dict[str, Any] = stored_context(variables)
        self.state: dict[str, Any] = json.loads(state or "{}")
        self.state.setdefault("history", [])
        self.state.setdefault("waiting", {})

    @property
    def history(self) -> list[dict[str, Any]]:
        return self.state["history"]

    @property
    def secrets(self) -> list[str]:
        import os

        values = list(self.ctx.secrets) + [os.environ.get(n, "") for n in self.playbook.redact_env]
        return sorted({v for v in values if v}, key=len, reverse=True)

    def current(self) -> Step | None:
        if self.status not in ("running", "failed") or not self.current_step or self.current_step == END:
            return None
        return self.playbook.step(self.current_step)

    def _current(self, nothing: str) -> Step:
        step = self.current()
        if step is None:
            raise RunError(f"run {self.run_id} is {self.status}; {nothing}")
        return step

    def _save(self, cur: DuckDBPyConnection, *, finished: datetime | None = None) -> None:
        claims.save(self, cur, finished)  # unless another console changed the run since

    # -- rendering -----------------------------------------------------------------------

    def render(self, template: str, where: str) -> str:
        """Render one template once in the sandbox; its output is never rendered again."""
        from jinja2 import TemplateError

        try:
            return TEMPLATES.from_string(template).render(self.context)
        except TemplateError as exc:
            raise RenderError(
                f"{self.playbook.place(self.current_step)}: {where}: cannot render {template!r}: {exc}"
            ) from None

    def _params(self, step: Step) -> list[str]:
        return [self.render(p, f"step {step.id}.params[{i}]") for i, p in enumerate(step.params)]

    def command_argv(self, step: Step) -> list[str]:
        """The argv a command step runs: re-checked for safety, each input rendered and typed."""
        argv = list(step.argv or [])
        self._refuse_unsafe(step, argv)
        values = {name: self._input_value(step, name, spec) for name, spec in step.inputs.items()}
        # every templated element is exactly `{{ inputs.NAME }}` of a declared input by now
        return [values[name] if (name := input_ref(a)) else a for a in argv]

    def _refuse_unsafe(self, step: Step, argv: list[str]) -> None:
        """The file may have changed since it was linted: check the argv again."""
        findings = argv_findings(argv, step.inputs)
        if not findings:
            return
        index, why = findings[0]
        more = f" (and {len(findings) - 1} more)" if len(findings) > 1 else ""
        raise StepRefused(
            f"{self.playbook.place(step.id)}: step {step.id}: argv[{index}] "
            f"{why}{more}; "
            "the step does not run (see `oncall playbook lint`)",
            {"argv": argv, "unsafe": [i for i, _ in findings]},
        )

    def _input_value(self, step: Step, name: str, spec: Input) -> str:
        value = self.render(spec.source, f"step {step.id}.inputs.{name}.from")
        try:
            return check_value(spec, value)
        except ArgumentRefused as exc:
            message = redact_secrets(
                f"{self.playbook.place(step.id)}: step {step.id}: {name}: {exc}; "
                "the step does not run (fix the value at its source, or skip the "
                "step)",
                self.secrets,
            )
            raise StepRefused(
                message,
                {
                    "argv": list(step.argv or []),
                    "input": name,
                    "type": spec.type,
                    "value": redact_secrets(shown(value, 200), self.secrets),
                },
            ) from None

    # -- previewing ----------------------------------------------------------------------

    def preview(self) -> Preview:
        """The current step resolved: the exact argv, SQL and parameters, or the action plan."""
        step = self._current("nothing to preview")
        try:
            return self._resolved(step)
        except (RunError, ActionUnavailable) as exc:
            return Preview(step, step.title or step.id, step.text, error=str(exc))

    def _resolved(self, step: Step) -> Preview:
        where = f"step {step.id}"
        title = self.render(step.title or step.id, f"{where}.title")
        text = self.render(step.text, f"{where}.text") if step.text else ""
        preview = Preview(step, title, text)
        resolve = _PREVIEWS.get(step.kind)
        if resolve is not None:
            resolve(self, step, preview)
        return preview

    def _preview_query(self, step: Step, preview: Preview) -> None:
        preview.sql = step.sql
        preview.params = self._params(step)

    def _preview_command(self, step: Step, preview: Preview) -> None:
        preview.argv = [redact_secrets(a, self.secrets) for a in self.command_argv(step)]

    def _preview_decision(self, step: Step, preview: Preview) -> None:
        preview.question = self.render(step.question or "", f"step {step.id}.question")
        preview.answers = list(step.answers)

    def _preview_action(self, step: Step, preview: Preview) -> None:
        preview.plan = self._planned(step)

    def _planned(self, step: Step) -> PlannedAction:
        """The action's plan, made (and audited `planned`) once per step."""
        if self._plan and self._plan[0] == step.id:
            return self._plan[1]
        planned = planner_for(step.action)(self.ctx, self._args(step), self.incident_id)
        with self.ctx.store.shared.transaction() as cur:
            audit(
                cur,
                self.ctx.clock(),
                self.ctx.actor,
                planned.kind,
                "planned",
                f"playbook:{self.playbook.id}/{step.id}",
                None,
                planned.params,
                {"plan": planned.text},
            )
        self._plan = (step.id, planned)
        return planned

    def _args(self, step: Step) -> dict[str, str]:
        return {k: self.render(v, f"step {step.id}.args.{k}") for k, v in step.args.items()}

    # -- running -------------------------------------------------------------------------

    def advance(
        self,
        *,
        answer: str | None = None,
        confirm: bool = False,
        reason: str | None = None,
        typed_name: str | None = None,
    ) -> Outcome:
        """Run the current step and record its outcome; commands and actions need `confirm`."""
        step = self._current("no step to run")
        self._may_run(step, answer, confirm)
        with claims.held(self, step):  # of consoles running this step at once, one does
            try:
                result = self._execute(step, Given(answer, reason, typed_name))
            except StepRefused as exc:
                return self._record(step, StepResult("failed", exc.detail, str(exc)), answer, stop="denied")
            except RenderError as exc:
                return self._record(step, StepResult("failed", {}, str(exc)), answer, stop="failed")
            except RunError as exc:
                result = StepResult("failed", {}, str(exc))
            return self._record(step, result, answer)

    def _may_run(self, step: Step, answer: str | None, confirm: bool) -> None:
        """Refuse a step that changes the world unconfirmed, or a decision without an answer."""
        if step.kind in ("command", "action") and not confirm:
            raise RunError(f"step {step.id} changes the world: confirm it after reading the preview")
        if step.kind == "decision" and answer not in step.answers:
            raise RunError(f"step {step.id} asks: {step.question} — answer one of {', '.join(step.answers)}")

    def skip(self, reason: str) -> Outcome:
        """Mark the current step skipped (done by hand, or not relevant) and move on."""
        step = self._current("no step to skip")
        with claims.held(self, step):
            return self._record(step, StepResult("skipped", {"reason": reason}), None)

    def _execute(self, step: Step, given: Given) -> StepResult:
        """Render the step's text first (a template that fails fails the step), then run it."""
        where = f"step {step.id}"
        for key, template in (("title", step.title), ("text", step.text), ("question", step.question)):
            if template:
                self.render(template, f"{where}.{key}")
        return _KINDS[step.kind](self, step, given)

    def _instruction(self, step: Step, given: Given) -> StepResult:
        if not step.incident:
            return StepResult("done", {})
        return ran.move_incident(self.ctx, self.incident_id, step.incident, f"playbook {self.playbook.id}")

    def _decision(self, step: Step, given: Given) -> StepResult:
        question = self.render(step.question or "", f"step {step.id}.question")
        return StepResult("answered", {"answer": given.answer, "question": question})

    def _query_step(self, step: Step, given: Given) -> StepResult:
        rows, output = self._query(step)
        if step.expect is None:
            return StepResult("done", output)
        if step.expect.holds(rows):
            return StepResult("passed", output)
        return StepResult("failed", output, f"expected {step.expect}")

    def _query(self, step: Step) -> tuple[list[tuple], dict[str, Any]]:
        problem = select_only(step.sql or "")
        if problem:
            raise RunError(f"step {step.id}: {problem}")
        return run_query(self.ctx.store, step.id, step.sql or "", self._params(step))

    def _command(self, step: Step, given: Given) -> StepResult:
        return run_command(self.command_argv(step), step.timeout.total_seconds(), self.secrets)

    def _action(self, step: Step, given: Given) -> StepResult:
        try:
            planned = self._planned(step)
        except ActionUnavailable as exc:
            return StepResult("failed", {}, str(exc))
        why = given.reason or self._reason(step)
        if not why.strip():
            raise RunError(f"step {step.id}: {planned.kind} needs a reason; it goes in the audit log")
        try:
            result = planned.apply(why, given.typed_name)
        except ActionUnavailable as exc:
            return StepResult("failed", {"plan": planned.text, "reason": why}, str(exc))
        finally:
            self._plan = None
        return StepResult("passed", {"plan": planned.text, "reason": why, "result": result})

    def _reason(self, step: Step) -> str:
        return self.render(step.reason, f"step {step.id}.reason") if step.reason else ""

    def _wait(self, step: Step, given: Given) -> StepResult:
        import time

        sleep = self.ctx.sleep or time.sleep
        started = self._wait_started(step)
        polls = 0
        while True:
            rows, output = self._query(step)
            polls += 1
            if step.expect is not None and step.expect.holds(rows):
                output.update(polls=polls, waited_s=(self.ctx.clock() - started).total_seconds())
                return StepResult("passed", output)
            if self.ctx.clock() - started >= step.timeout:
                output.update(polls=polls)
                within = step.timeout.total_seconds()
                return StepResult("timeout", output, f"{step.expect} did not hold within {within:g}s")
            sleep(step.every.total_seconds())

    def _wait_started(self, step: Step) -> datetime:
        """When the wait began; a new one is stored at once, so a restart keeps its start."""
        started_text = self.state["waiting"].get(step.id)
        if started_text is not None:
            return datetime.fromisoformat(started_text)
        started = self.ctx.clock()
        self.state["waiting"][step.id] = started.isoformat()
        with self.ctx.store.shared.transaction() as cur:
            self._save(cur)
            self._timeline(
                cur,
                started,
                "step",
                f"waiting: {self.render(step.title or step.id, 'title')}",
                {"step": step.id, "phase": "started"},
            )
        return started

    # -- recording -----------------------------------------------------------------------

    def _timeline(
        self, cur: DuckDBPyConnection, ts: datetime, kind: str, text: str, detail: dict[str, Any]
    ) -> None:
        if self.incident_id is None:
            return
        from console.incidents.lifecycle import append_timeline

        append_timeline(
            cur,
            self.incident_id,
            ts,
            kind,
            self.ctx.actor,
            text,
            {"playbook": self.playbook.id, "run": self.run_id, **detail},
        )

    def _record(self, step: Step, result: StepResult, answer: str | None, stop: str | None = None) -> Outcome:
        """Store one outcome; `stop` (its audit phase) keeps the run failed at this step."""
        next_step = None if stop else self._next_step(step, result, answer)
        now = self.ctx.clock()
        self._remember(step, result, now, next_step)
        text = self._outcome_text(step, result)
        detail = {"step": step.id, "outcome": result.outcome, "error": result.error, **answered(result)}
        with self.ctx.store.shared.transaction() as cur:
            self._save(cur, finished=now if self.status == "done" else None)
            self._timeline(cur, now, "step", text, {**detail, "output": brief(result.output)})
            self._audit_outcome(cur, now, step, result, answer, stop)
            if self.status == "done":
                self._timeline(cur, now, "playbook", f"playbook {self.playbook.id} finished", {})
        shown_next = None if next_step in (None, END) else next_step
        return Outcome(
            step.id, step.kind, result.outcome, self.ctx.actor, now, shown_next, result.output, result.error
        )

    def _next_step(self, step: Step, result: StepResult, answer: str | None) -> str | None:
        """Where the run goes after this outcome; None keeps it failed here (retry, or skip by hand)."""
        if step.kind == "decision" and result.outcome == "answered":
            return step.answers[answer or ""]
        if result.failed:
            return self._after_failure(step)
        return self.playbook.after(step)

    def _after_failure(self, step: Step) -> str | None:
        if step.on_fail:
            return step.on_fail
        if step.kind in ("command", "action", "wait_for") or step.incident:  # nothing to go on with
            return None
        return self.playbook.after(step)

    def _remember(self, step: Step, result: StepResult, now: datetime, next_step: str | None) -> None:
        """The outcome into the run's history, and the run moved on (or failed here)."""
        outcome, output, error = result
        entry = {"step": step.id, "kind": step.kind, "outcome": outcome, "actor": self.ctx.actor}
        self.history.append({**entry, "ts": now.isoformat(), "error": error, "output": output})
        self.state["waiting"].pop(step.id, None)
        self.state.pop("claim", None)
        if next_step is None:
            self.status = "failed"
        else:
            self.current_step = next_step
            self.status = "done" if next_step == END else "running"

    def _outcome_text(self, step: Step, result: StepResult) -> str:
        """The timeline's line for an outcome, the title rendered where it can be."""
        try:
            title = self.render(step.title, "title") if step.title else step.id
        except RunError:
            title = step.title or step.id
        said = f' "{result.output["answer"]}"' if answered(result) else ""
        why = f" — {result.error}" if result.error else ""
        return f"step {step.id} ({title}): {result.outcome}{said}{why}"

    def _audit_outcome(
        self,
        cur: DuckDBPyConnection,
        now: datetime,
        step: Step,
        result: StepResult,
        answer: str | None,
        stop: str | None,
    ) -> None:
        output = result.output
        audit(
            cur,
            now,
            self.ctx.actor,
            f"playbook.{step.kind}",
            stop or ("failed" if result.failed else "after"),
            f"playbook:{self.playbook.id}/{step.id}",
            output.get("reason"),
            {
                "run": self.run_id,
                "argv": output.get("argv"),
                "sql": step.sql,
                "params": output.get("params"),
                "answer": answer,
            },
            {"outcome": result.outcome, "error": result.error, "output": brief(output)},
        )


# how each kind of step is previewed (the others show only their title and text) and run
_PREVIEWS: dict[str, Callable[[Runner, Step, Preview], None]] = {
    "query": Runner._preview_query,
    "wait_for": Runner._preview_query,
    "command": Runner._preview_command,
    "decision": Runner._preview_decision,
    "action": Runner._preview_action,
}
_KINDS: dict[str, Callable[[Runner, Step, Given], StepResult]] = {
    "instruction": Runner._instruction,
    "query": Runner._query_step,
    "command": Runner._command,
    "decision": Runner._decision,
    "action": Runner._action,
    "wait_for": Runner._wait,
}
