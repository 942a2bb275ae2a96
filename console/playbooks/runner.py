"""Walks one playbook run step by step.

The runner's state lives in the store's `playbook_runs` table, so a run survives a
restart at the step where it stopped, with its history.
"""

from __future__ import annotations

from typing import Any

from console.playbooks.args import ArgumentRefused, Input, check_value, input_ref, is_templated, shown
from console.playbooks.context import (
    OUTPUT_LIMIT,
    ROW_LIMIT,
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
    select_only,
)
from console.playbooks.kinds import ACTION_KINDS
from console.playbooks.lint import argv_findings
from console.playbooks.model import END, TEMPLATES, Playbook, Step


class Runner:
    """Walks one playbook run step by step; every outcome lands in the store."""

    def __init__(self, ctx: RunContext, playbook: Playbook, run_id: int) -> None:
        self.ctx, self.playbook, self.run_id = ctx, playbook, run_id
        self._plan: tuple[str, PlannedAction] | None = None
        self._load()

    # -- state ---------------------------------------------------------------------------

    def _load(self) -> None:
        import json

        rows = self.ctx.store.query(
            "SELECT incident_id, status, current_step, variables, state FROM playbook_runs WHERE id = ?",
            [self.run_id],
        )[1]
        if not rows:
            raise RunError(f"no playbook run {self.run_id}")
        self.incident_id, self.status, self.current_step, variables, state = rows[0]
        self.context: dict[str, Any] = json.loads(variables or "{}")
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

    def _save(self, cur: Any, *, finished: Any = None) -> None:
        import json

        cur.execute(
            "UPDATE playbook_runs SET status = ?, current_step = ?, state = ?, "
            "finished_at = coalesce(?, finished_at) WHERE id = ?",
            [self.status, self.current_step, json.dumps(self.state, default=str), finished, self.run_id],
        )

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

    def command_argv(self, step: Step) -> list[str]:
        """The argv a command step runs: re-checked for safety, each input rendered and typed."""
        argv = list(step.argv or [])
        findings = argv_findings(argv, step.inputs)
        if findings:
            index, why = findings[0]
            more = f" (and {len(findings) - 1} more)" if len(findings) > 1 else ""
            raise StepRefused(
                f"{self.playbook.place(step.id)}: step {step.id}: argv[{index}] "
                f"{why}{more}; "
                "the step does not run (see `oncall playbook lint`)",
                {"argv": argv, "unsafe": [i for i, _ in findings]},
            )
        values = {name: self._input_value(step, name, spec) for name, spec in step.inputs.items()}
        return [values[input_ref(a)] if is_templated(a) else a for a in argv]  # type: ignore[index]  # untyped row or union left for the drift/incidents/playbooks pass

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

    def preview(self) -> Preview:
        """The current step resolved: the exact argv, SQL and parameters, or the action plan."""
        step = self.current()
        if step is None:
            raise RunError(f"run {self.run_id} is {self.status}; nothing to preview")
        where = f"step {step.id}"
        try:
            title = self.render(step.title or step.id, f"{where}.title")
            text = self.render(step.text, f"{where}.text") if step.text else ""
            preview = Preview(step, title, text)
            if step.kind in ("query", "wait_for"):
                preview.sql = step.sql
                preview.params = [self.render(p, f"{where}.params[{i}]") for i, p in enumerate(step.params)]
            elif step.kind == "command":
                preview.argv = [redact_secrets(a, self.secrets) for a in self.command_argv(step)]
            elif step.kind == "decision":
                preview.question = self.render(step.question or "", f"{where}.question")
                preview.answers = list(step.answers)
            elif step.kind == "action":
                preview.plan = self._planned(step)
        except (RunError, ActionUnavailable) as exc:
            return Preview(step, step.title or step.id, step.text, error=str(exc))
        return preview

    def _planned(self, step: Step) -> PlannedAction:
        if self._plan and self._plan[0] == step.id:
            return self._plan[1]
        planner = ACTION_KINDS.get(step.action or "")
        if planner is None:
            raise ActionUnavailable(
                f"action {step.action!r} is not available; known: {', '.join(sorted(ACTION_KINDS))}"
            )
        args = {k: self.render(v, f"step {step.id}.args.{k}") for k, v in step.args.items()}
        planned = planner(self.ctx, args, self.incident_id)
        with self.ctx.store.transaction() as cur:
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
        step = self.current()
        if step is None:
            raise RunError(f"run {self.run_id} is {self.status}; no step to run")
        if step.kind in ("command", "action") and not confirm:
            raise RunError(f"step {step.id} changes the world: confirm it after reading the preview")
        if step.kind == "decision" and answer not in step.answers:
            raise RunError(f"step {step.id} asks: {step.question} — answer one of {', '.join(step.answers)}")
        try:
            outcome, output, error = self._execute(step, answer, reason, typed_name)
        except StepRefused as exc:
            return self._record(step, "failed", exc.detail, str(exc), answer, stop="denied")
        except RenderError as exc:
            return self._record(step, "failed", {}, str(exc), answer, stop="failed")
        except RunError as exc:
            outcome, output, error = "failed", {}, str(exc)
        return self._record(step, outcome, output, error, answer)

    def skip(self, reason: str) -> Outcome:
        """Mark the current step skipped (done by hand, or not relevant) and move on."""
        step = self.current()
        if step is None:
            raise RunError(f"run {self.run_id} is {self.status}; no step to skip")
        return self._record(step, "skipped", {"reason": reason}, None, None)

    def _execute(
        self, step: Step, answer: str | None, reason: str | None, typed_name: str | None
    ) -> tuple[str, dict[str, Any], str | None]:
        self._prepare(step)
        if step.kind == "instruction":
            return "done", {}, None
        if step.kind == "query":
            rows, output = self._query(step)
            if step.expect is None:
                return "done", output, None
            held = step.expect.holds(rows)
            return ("passed" if held else "failed"), output, None if held else f"expected {step.expect}"
        if step.kind == "command":
            return self._command(step)
        if step.kind == "decision":
            return "answered", {"answer": answer}, None
        if step.kind == "action":
            return self._action(step, reason, typed_name)
        return self._wait(step)

    def _prepare(self, step: Step) -> None:
        """Render the step's text before it counts as run: a template that fails fails the step."""
        where = f"step {step.id}"
        for key, template in (("title", step.title), ("text", step.text), ("question", step.question)):
            if template:
                self.render(template, f"{where}.{key}")

    def _query(self, step: Step) -> tuple[list[tuple], dict[str, Any]]:
        problem = select_only(step.sql or "")
        if problem:
            raise RunError(f"step {step.id}: {problem}")
        params = [self.render(p, f"step {step.id}.params[{i}]") for i, p in enumerate(step.params)]
        cur = self.ctx.store.cursor()
        try:
            cur.execute(step.sql, params)
            columns = [d[0] for d in cur.description or []]
            rows = cur.fetchmany(ROW_LIMIT)
        except Exception as exc:  # noqa: BLE001 - DuckDB raises many kinds; all are the query's
            raise RunError(f"step {step.id}: query failed: {str(exc).splitlines()[0]}") from None
        finally:
            cur.close()
        return rows, {"columns": columns, "rows": [list(r) for r in rows], "params": params}

    def _command(self, step: Step) -> tuple[str, dict[str, Any], str | None]:
        import subprocess

        from console.core.private import child_umask

        argv = self.command_argv(step)
        displayed = [redact_secrets(a, self.secrets) for a in argv]
        timeout = step.timeout.total_seconds()
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
            for name in ("stdout", "stderr"):
                data = getattr(exc, name) or ""
                data = data.decode(errors="replace") if isinstance(data, bytes) else data
                output[name] = redact_secrets(data[-OUTPUT_LIMIT:], self.secrets)
            return "failed", output, f"timed out after {timeout:g}s"
        except (OSError, ValueError, UnicodeError) as exc:
            return "failed", output, f"could not start {displayed[0]!r}: {exc}"
        output.update(
            returncode=done.returncode,
            stdout=redact_secrets(done.stdout[-OUTPUT_LIMIT:], self.secrets),
            stderr=redact_secrets(done.stderr[-OUTPUT_LIMIT:], self.secrets),
        )
        if done.returncode != 0:
            return "failed", output, f"exited {done.returncode}"
        return "passed", output, None

    def _action(
        self, step: Step, reason: str | None, typed_name: str | None
    ) -> tuple[str, dict[str, Any], str | None]:
        try:
            planned = self._planned(step)
        except ActionUnavailable as exc:
            return "failed", {}, str(exc)
        why = reason or (self.render(step.reason, f"step {step.id}.reason") if step.reason else "")
        if not why.strip():
            raise RunError(f"step {step.id}: {planned.kind} needs a reason; it goes in the audit log")
        try:
            result = planned.apply(why, typed_name)
        except ActionUnavailable as exc:
            return "failed", {"plan": planned.text, "reason": why}, str(exc)
        finally:
            self._plan = None
        return "passed", {"plan": planned.text, "reason": why, "result": result}, None

    def _wait(self, step: Step) -> tuple[str, dict[str, Any], str | None]:
        import time
        from datetime import datetime

        sleep = self.ctx.sleep or time.sleep
        started_text = self.state["waiting"].get(step.id)
        if started_text is None:
            started = self.ctx.clock()
            self.state["waiting"][step.id] = started.isoformat()
            with self.ctx.store.transaction() as cur:
                self._save(cur)
                self._timeline(
                    cur,
                    started,
                    "step",
                    f"waiting: {self.render(step.title or step.id, 'title')}",
                    {"step": step.id, "phase": "started"},
                )
        else:
            started = datetime.fromisoformat(started_text)
        polls = 0
        while True:
            rows, output = self._query(step)
            polls += 1
            if step.expect is not None and step.expect.holds(rows):
                output.update(polls=polls, waited_s=(self.ctx.clock() - started).total_seconds())
                return "passed", output, None
            if self.ctx.clock() - started >= step.timeout:
                output.update(polls=polls)
                return (
                    "timeout",
                    output,
                    (f"{step.expect} did not hold within {step.timeout.total_seconds():g}s"),
                )
            sleep(step.every.total_seconds())

    def _timeline(self, cur: Any, ts: Any, kind: str, text: str, detail: Any) -> None:
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

    def _record(
        self,
        step: Step,
        outcome: str,
        output: dict[str, Any],
        error: str | None,
        answer: str | None,
        stop: str | None = None,
    ) -> Outcome:
        """Store one outcome; `stop` (its audit phase) keeps the run failed at this step."""
        failed = outcome in ("failed", "timeout")
        if stop:
            next_step: str | None = None
        elif step.kind == "decision" and outcome == "answered":
            next_step = step.answers[answer or ""]
        elif failed and step.on_fail:
            next_step = step.on_fail
        elif failed and step.kind in ("command", "action", "wait_for"):
            next_step = None  # stays here: retry, or skip it by hand
        else:
            next_step = self.playbook.after(step)
        now = self.ctx.clock()
        entry = {
            "step": step.id,
            "kind": step.kind,
            "outcome": outcome,
            "actor": self.ctx.actor,
            "ts": now.isoformat(),
            "error": error,
            "output": output,
        }
        self.history.append(entry)
        self.state["waiting"].pop(step.id, None)
        if next_step is None:
            self.status = "failed"
        else:
            self.current_step = next_step
            self.status = "done" if next_step == END else "running"
        try:
            title = self.render(step.title, "title") if step.title else step.id
        except RunError:
            title = step.title or step.id
        text = f"step {step.id} ({title}): {outcome}" + (f" — {error}" if error else "")
        with self.ctx.store.transaction() as cur:
            self._save(cur, finished=now if self.status == "done" else None)
            self._timeline(
                cur,
                now,
                "step",
                text,
                {"step": step.id, "outcome": outcome, "error": error, "output": brief(output)},
            )
            audit(
                cur,
                now,
                self.ctx.actor,
                f"playbook.{step.kind}",
                stop or ("failed" if failed else "after"),
                f"playbook:{self.playbook.id}/{step.id}",
                output.get("reason"),
                {
                    "run": self.run_id,
                    "argv": output.get("argv"),
                    "sql": step.sql,
                    "params": output.get("params"),
                    "answer": answer,
                },
                {"outcome": outcome, "error": error, "output": brief(output)},
            )
            if self.status == "done":
                self._timeline(cur, now, "playbook", f"playbook {self.playbook.id} finished", {})
        return Outcome(
            step.id,
            step.kind,
            outcome,
            self.ctx.actor,
            now,
            None if next_step in (None, END) else next_step,
            output,
            error,
        )
