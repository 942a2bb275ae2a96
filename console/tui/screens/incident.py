"""The incident screen: header, timeline and playbook runner side by side, and what changed."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import Screen
from textual.widgets import DataTable, Footer, Header, Input, Static
from textual.worker import Worker, WorkerState

from console.core.output import cell
from console.incidents.roles import INPUT_HELP, assign_text, roles_line
from console.screens import incident as pages
from console.tui.host import host
from console.tui.live import LiveScreen
from console.tui.screens.incident_chart import burn_summary, show_burn
from console.tui.screens.incident_text import CanaryLines, preview_text, steps_text, suspects_text
from console.tui.screens.modals import Confirmation, PlanModal, step_confirmation
from console.tui.widgets.chart import TimeChart, marker_caption
from console.tui.widgets.tables import RowTable, sync_table

if TYPE_CHECKING:
    from console.playbooks.context import RunContext
    from console.playbooks.model import Playbook
    from console.playbooks.runner import Runner
    from console.runtime.session import Session

STATUS_STYLE = {
    "triggered": "bold red",
    "acknowledged": "bold yellow",
    "mitigated": "bold cyan",
    "resolved": "bold green",
    "closed": "dim",
}


def wait_sleep(session: Session, seconds: float) -> None:
    """A wait_for step's pause: until the session's clock moved `seconds` (at most that long in wall time)."""
    start, deadline = session.clock(), time.monotonic() + seconds
    while time.monotonic() < deadline:
        if (session.clock() - start).total_seconds() >= seconds:
            return
        time.sleep(0.2)


class IncidentScreen(LiveScreen, Screen[None]):
    """One incident: header, timeline and the playbook runner side by side, and what changed."""

    DEFAULT_CSS = """
    IncidentScreen #inc-head { height: 2; padding: 0 1; }
    IncidentScreen #inc-main { height: 1fr; }
    IncidentScreen #inc-left, IncidentScreen #inc-right { width: 1fr; height: 1fr; }
    IncidentScreen #inc-steps { height: auto; padding: 0 1; }
    IncidentScreen #inc-preview { height: auto; max-height: 9; padding: 0 1; }
    IncidentScreen #inc-result { height: 1fr; }
    IncidentScreen #inc-what { height: 14; border: round $primary-background; }
    IncidentScreen #inc-chart-box { width: 1fr; }
    IncidentScreen #inc-marks { height: 1; padding: 0 1; }
    IncidentScreen #inc-chart { height: 1fr; min-height: 8; }
    IncidentScreen #inc-suspects-box { width: 1fr; }
    IncidentScreen #inc-suspects { padding: 0 1; }
    IncidentScreen #inc-input { dock: bottom; margin-bottom: 1; border: round $accent; }
    """

    BINDINGS = [
        Binding("escape", "back", "Back"),
        Binding("a", "status('acknowledged')", "Ack"),
        Binding("m", "status('mitigated')", "Mitigate"),
        Binding("v", "status('resolved')", "Resolve"),
        Binding("n", "note", "Note"),
        Binding("f", "followup", "Follow-up"),
        Binding("A", "assign", "Assign"),
        Binding("p", "start", "Start playbook"),
        Binding("x", "run_step", "Run step"),
        Binding("s", "skip", "Skip step"),
        Binding("1", "answer(0)", "Answer 1", show=False),
        Binding("2", "answer(1)", "Answer 2", show=False),
        Binding("3", "answer(2)", "Answer 3", show=False),
        Binding("4", "answer(3)", "Answer 4", show=False),
        Binding("r", "reload", "Refresh"),
    ]

    def __init__(self, session: Session, incident_id: int) -> None:
        super().__init__()
        self.session, self.incident_id = session, incident_id
        self.runner: Runner | None = None
        self.library: dict[str, Playbook] | None = None
        self.candidate: Playbook | None = None
        self.page: pages.IncidentPage | None = None
        self.busy = False
        self._input_mode: str | None = None

    # -- layout ---------------------------------------------------------------------------

    def compose(self) -> ComposeResult:
        yield Header()
        yield Static("loading…", id="inc-head")
        yield CanaryLines(id="inc-canary")
        with Horizontal(id="inc-main"):
            with Vertical(classes="panel", id="inc-left"):
                yield Static("Timeline", classes="title")
                table: DataTable[Any] = RowTable(id="inc-timeline", cursor_type="row", zebra_stripes=True)
                table.add_columns("time", "kind", "who", "what")
                yield table
            with Vertical(classes="panel", id="inc-right"):
                yield Static("Playbook", classes="title", id="inc-playbook-title")
                yield Static("", id="inc-steps")
                yield Static("", id="inc-preview")
                yield RowTable(id="inc-result", cursor_type="row", zebra_stripes=True)
        with Horizontal(id="inc-what"):
            with Vertical(id="inc-chart-box"):
                yield Static("What changed", classes="title", id="inc-burn")
                yield TimeChart("burn ×", id="inc-chart")
                yield Static("", id="inc-marks")
            with Vertical(id="inc-suspects-box"):
                yield Static("Suspects (most likely first)", classes="title")
                yield Static("", id="inc-suspects")
        yield Input(id="inc-input")
        yield Footer()

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        if event.state == WorkerState.ERROR and event.worker.error is not None:
            host(self).worker_failed(event.worker, f"incident {self.incident_id}")

    def on_mount(self) -> None:
        self.query_one("#inc-input", Input).display = False
        self.query_one("#inc-timeline", DataTable).focus()
        self.reload()
        if seconds := getattr(self.app, "refresh_seconds", 0):
            self.set_interval(max(seconds, 1.0), self.reload, name="incident-refresh")

    # -- loading --------------------------------------------------------------------------

    def run_context(self) -> RunContext:
        from console.playbooks.context import RunContext

        session = self.session
        return RunContext(
            store=session.store,
            actor=session.actor,
            clock=session.clock,
            sleep=lambda seconds: wait_sleep(session, seconds),
            workspace=session.workspace,
            allow_actions=not session.read_only,
            slos=session.slos,  # the SLOs in force rank the suspects, as on the screen
        )

    def _ensure_runner(self) -> None:
        """Resume the incident's latest run from the store, or find the playbook that matches."""
        from console.playbooks.runs import resume_run

        if self.library is None:
            self.library = self.session.config.playbooks  # a broken file keeps its last good
        if self.runner is None:
            run_id = pages.latest_run(self.session.store, self.incident_id)
            if run_id is not None:
                self.runner = resume_run(self.run_context(), self.library, run_id)
        if self.runner is None and self.candidate is None:
            self.candidate = self._matching_playbook(self.library)

    def _matching_playbook(self, library: dict[str, Playbook]) -> Playbook | None:
        """The first playbook whose match fits the incident: offered to start."""
        incident = pages.incidents.get_incident(self.session.store, self.incident_id)
        found = pages.matched_playbooks(library, incident)
        return found[0] if found else None

    @work(thread=True, exclusive=True, group="incident-load", exit_on_error=False)
    def reload(self) -> None:
        try:
            self._ensure_runner()
            page = pages.load_page(
                self.session.store,
                self.session.slos,
                self.incident_id,
                self.session.clock(),
                self.runner,
                self.candidate,
                workspace=self.session.workspace,
            )
        except Exception as exc:  # noqa: BLE001 - shown, not raised into the UI
            self.app.call_from_thread(
                self.notify, f"incident {self.incident_id}: {exc}", severity="error", markup=False
            )
            return
        self.app.call_from_thread(self.draw, page)

    def action_reload(self) -> None:
        self.reload()

    # -- drawing --------------------------------------------------------------------------

    def draw(self, page: pages.IncidentPage) -> None:
        self.page = page
        i = page.incident
        head = Text.assemble(
            (f"Incident {i.id} ", "bold"),
            (f" {i.severity or '—'} ", "bold reverse red"),
            " ",
            (i.status.upper(), STATUS_STYLE.get(i.status, "")),
            f" · {roles_line(i)} · age {pages.incidents.format_span(i.age(page.now))}"
            f" · declared {i.created_at:%Y-%m-%d %H:%M} UTC\n",
        )
        head.append(i.title)
        self.query_one("#inc-head", Static).update(head)
        self.query_one("#inc-canary", CanaryLines).show(page.canaries)
        rows = [
            (str(e.id), [cell(e.ts)[11:19], e.kind, Text(e.actor or ""), Text(e.text)]) for e in page.timeline
        ]
        timeline = self.query_one("#inc-timeline", DataTable)
        sync_table(timeline, rows)
        if rows:
            timeline.move_cursor(row=len(rows) - 1)
        self._draw_runner(page)
        self._draw_what(page)

    def _draw_runner(self, page: pages.IncidentPage) -> None:
        title = self.query_one("#inc-playbook-title", Static)
        if page.playbook_id is None:
            title.update("Playbook: none matches this incident's alert")
        else:
            state = page.run_status or "p starts it"
            title.update(Text.assemble(("Playbook ", "bold"), (page.playbook_id, "bold cyan"), f" · {state}"))
        self.query_one("#inc-steps", Static).update(steps_text(page.steps))
        self.query_one("#inc-preview", Static).update(preview_text(page))
        self._draw_result(page)

    def _draw_result(self, page: pages.IncidentPage) -> None:
        table = self.query_one("#inc-result", DataTable)
        output = (page.last or {}).get("output") or {}
        columns = output.get("columns")
        table.clear(columns=True)
        if columns:
            _show_rows(table, columns, output.get("rows", []))
        elif output.get("stdout") or output.get("stderr"):
            _show_output(table, output)

    def _draw_what(self, page: pages.IncidentPage) -> None:
        """The burn to the clock's now (each refresh loads it afresh), its markers named below it."""
        self.query_one("#inc-burn", Static).update(burn_summary(page.what, page.now))
        markers = show_burn(self.query_one("#inc-chart", TimeChart), page.what, self.session.slos, page.now)
        self.query_one("#inc-marks", Static).update(marker_caption(markers))
        self.query_one("#inc-suspects", Static).update(suspects_text(page.what, page.estimates))

    # -- keys -----------------------------------------------------------------------------

    def action_back(self) -> None:
        if self._input_mode is not None:
            self._close_input()
        else:
            self.app.pop_screen()

    def _writable(self) -> bool:
        if not self.session.owner:
            self.notify("read-only snapshot: act from the console that owns the store", severity="error")
            return False
        if self.busy:
            self.notify("a step is still running", severity="warning")
            return False
        return True

    def action_status(self, to_status: str) -> None:
        if self._writable():
            self._transition(to_status)

    @work(thread=True, group="incident-write", exit_on_error=False)
    def _transition(self, to_status: str) -> None:
        try:
            pages.incidents.transition(
                self.session.store,
                self.incident_id,
                to_status,
                now=self.session.clock(),
                actor=self.session.actor,
            )
        except pages.incidents.IncidentError as exc:
            self.app.call_from_thread(self.notify, str(exc), severity="error", markup=False)
            return
        self.app.call_from_thread(self.notify, f"incident {self.incident_id} {to_status}")
        self.app.call_from_thread(self.reload)

    def action_note(self) -> None:
        if self._writable():
            self._open_input("note", "note for the timeline (enter adds it, esc cancels)")

    def action_followup(self) -> None:
        if self._writable():
            self._open_input("followup", "follow-up for the postmortem (enter adds it, esc cancels)")

    def action_assign(self) -> None:
        if self._writable():
            self._open_input("role", f"{INPUT_HELP} (enter assigns, esc cancels)")

    def action_skip(self) -> None:
        if not self._writable() or self.runner is None:
            return
        step = self.runner.current()
        if step is not None:
            self._open_input("skip", f"why skip step {step.id}? (enter skips)")

    def _open_input(self, mode: str, placeholder: str) -> None:
        self._input_mode = mode
        box = self.query_one("#inc-input", Input)
        box.value, box.placeholder, box.display = "", placeholder, True
        box.focus()

    def _close_input(self) -> None:
        self._input_mode = None
        self.query_one("#inc-input", Input).display = False
        self.query_one("#inc-timeline", DataTable).focus()

    def on_input_submitted(self, event: Input.Submitted) -> None:
        if event.input.id != "inc-input":
            return
        event.stop()
        mode, text = self._input_mode, event.value.strip()
        self._close_input()
        if not text:
            self.notify(f"a {mode} needs text", severity="error")
            return
        if mode in ("note", "followup", "role"):
            self._add_text(mode, text)
        elif mode == "skip":
            self._step("skip", reason=text)

    @work(thread=True, group="incident-write", exit_on_error=False)
    def _add_text(self, mode: str, text: str) -> None:
        """A note, a follow-up (which the postmortem lists) or a change of roles, and the page redrawn."""
        add: Any = pages.incidents.add_followup if mode == "followup" else pages.incidents.add_note
        add = assign_text if mode == "role" else add
        try:
            add(
                self.session.store, self.incident_id, text, now=self.session.clock(), actor=self.session.actor
            )
        except pages.incidents.IncidentError as exc:
            self.app.call_from_thread(self.notify, str(exc), severity="error", markup=False)
            return
        self.app.call_from_thread(self.reload)

    def action_start(self) -> None:
        if not self._writable():
            return
        if self.runner is not None and self.runner.status != "done":
            self.notify(f"playbook {self.runner.playbook.id} is already running", severity="warning")
        elif self.candidate is None and self.runner is None:
            self.notify("no playbook matches this incident's alert", severity="warning")
        else:
            self._start()

    @work(thread=True, group="incident-write", exit_on_error=False)
    def _start(self) -> None:
        from console.playbooks.runs import start_run

        if self.candidate is not None:
            playbook = self.candidate
        else:
            assert self.runner is not None  # action_start saw a candidate or a run
            playbook = self.runner.playbook
        incident = pages.incidents.get_incident(self.session.store, self.incident_id)
        try:
            self.runner = start_run(self.run_context(), playbook, incident=incident)
        except Exception as exc:  # noqa: BLE001 - a variable that cannot render, shown
            self.app.call_from_thread(self.notify, str(exc), severity="error", markup=False)
            return
        self.app.call_from_thread(self.reload)

    def action_run_step(self) -> None:
        if not self._writable() or self.runner is None:
            return
        step = self.runner.current()
        if step is None:
            return
        if step.kind == "decision":
            answers = " / ".join(f"{n} {a}" for n, a in enumerate(step.answers, 1))
            self.notify(f"answer with a number key: {answers}", markup=False)
        elif step.kind in ("action", "command"):
            self._plan_step()
        else:
            self._step("advance")

    def action_answer(self, index: int) -> None:
        if not self._writable() or self.runner is None:
            return
        step = self.runner.current()
        if step is None or step.kind != "decision" or index >= len(step.answers):
            return
        self._step("advance", answer=list(step.answers)[index])

    @work(thread=True, group="incident-write", exit_on_error=False)
    def _plan_step(self) -> None:
        assert self.runner is not None  # action_run_step saw its current step
        preview = self.runner.preview()
        if preview.error:
            self.app.call_from_thread(self.notify, preview.error, severity="error", markup=False)
            return
        self.app.call_from_thread(self._confirm, *step_confirmation(preview))

    def _confirm(self, title: str, body: str, protected: str | None) -> None:
        def done(confirmation: Confirmation | None) -> None:
            if confirmation is not None:
                self._step(
                    "advance", confirm=True, reason=confirmation.reason, typed_name=confirmation.typed_name
                )

        self.app.push_screen(PlanModal(title, body, protected_name=protected), done)

    @work(thread=True, group="incident-write", exit_on_error=False)
    def _step(self, verb: str, **kw: Any) -> None:
        self.busy = True
        try:
            runner = self.runner
            assert runner is not None  # the key that asked for the step saw a run
            outcome = runner.skip(kw["reason"]) if verb == "skip" else runner.advance(**kw)
        except Exception as exc:  # noqa: BLE001 - RunError and store errors alike are shown
            self.app.call_from_thread(self.notify, str(exc), severity="error", markup=False)
            return
        finally:
            self.busy = False
        text = f"step {outcome.step_id}: {outcome.outcome}" + (f" — {outcome.error}" if outcome.error else "")
        self.app.call_from_thread(
            self.notify,
            text,
            markup=False,
            severity="error" if outcome.outcome in ("failed", "timeout") else "information",
        )
        self.app.call_from_thread(self.reload)


def _show_rows(table: DataTable[Any], columns: list[str], rows: list[list[Any]]) -> None:
    """A query's first 50 rows."""
    table.add_columns(*columns)
    for row in rows[:50]:
        table.add_row(*(Text(cell(x)) for x in row))


def _show_output(table: DataTable[Any], output: dict[str, Any]) -> None:
    """A command's last 50 lines of output, stdout then stderr."""
    table.add_columns("output")
    for line in (output.get("stdout", "") + output.get("stderr", "")).splitlines()[-50:]:
        table.add_row(Text(line))
