"""The console: keyboard-first like k9s; `:` switches views, `/` filters, `?` helps."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rich.text import Text
from textual import work
from textual.app import App, ComposeResult, SystemCommand
from textual.binding import Binding
from textual.containers import Vertical
from textual.message import Message
from textual.widgets import ContentSwitcher, DataTable, Footer, Header, Input, Static

from console.runtime.session import freeze_startup_objects
from console.tui.actions import ConsoleActions
from console.tui.failures import FailureReports, StepFailed
from console.tui.live import LiveConsole
from console.tui.palette import palette_commands
from console.tui.screens.detail import AlertDetailScreen
from console.tui.screens.modals import HelpScreen
from console.tui.views import VIEWS, AlertsView, LogsView, ModelsView, OverviewView, SqlView, View
from console.tui.widgets.banner import Banner
from console.tui.widgets.tables import WholeRowScreen
from console.tui.worker_log import WorkerLog

if TYPE_CHECKING:
    from textual.screen import Screen
    from textual.widget import AwaitMount

    from console.runtime.engine import Event
    from console.runtime.session import Session
    from console.screens.overview import AlertRow

COMMANDS = {cls.view_name: cls.view_title for cls in VIEWS}
VIEW_CLASSES = {cls.view_name: cls for cls in VIEWS}
ALIASES = {
    "slo": "overview",
    "o": "overview",
    "a": "alerts",
    "l": "logs",
    "m": "metrics",
    "q": "quit",
    "quit": "quit",
    "models": "models",
    "mo": "models",
}
HOME_VIEWS = {"rollback": "models", "promote": "models", "silence": "alerts"}  # where a key acts


class DataLoaded(Message):
    def __init__(
        self, view: str, data: Any, events: list[Event], final: bool = True, banner: list[str] | None = None
    ) -> None:
        super().__init__()
        self.view, self.data, self.events, self.final = view, data, events, final
        self.banner = banner
        self.arm = True  # once drawn, arm the next periodic refresh (a live refresh arms none)


class OncallApp(FailureReports, ConsoleActions, LiveConsole, App[None]):
    """The on-call console over one session (workspace, store, clock, engine)."""

    CSS_PATH = Path(__file__).with_name("app.tcss")
    TITLE = "oncall"
    view_classes = VIEW_CLASSES
    BINDINGS = [
        Binding("colon", "command_line", ":cmd"),
        Binding("slash", "filter", "/filter"),
        Binding("question_mark", "help", "?help"),
        Binding("enter", "drill", "Open", show=False),
        Binding("escape", "back", "Back", show=False),
        Binding("s", "silence", "Silence"),
        Binding("R", "rollback", "Rollback"),
        Binding("P", "promote", "Promote"),
        Binding("D", "degrade", "Degrade (demo)", show=False),
        Binding("r", "refresh", "Refresh"),
        Binding("q", "quit", "Quit"),
    ]

    def __init__(self, session: Session, *, refresh_seconds: float = 2.0, subtitle: str = "") -> None:
        super().__init__()
        self.session = session
        self.refresh_seconds = refresh_seconds
        self.sub_title = subtitle or session.workspace.root.name
        self.events: list[Event] = []
        self._mode: str | None = None  # "command" or "filter" while the input line is open
        self._mounting: dict[str, AwaitMount] = {}  # views being mounted, by name
        self._frozen = False
        self.worker_log = WorkerLog(session.workspace)
        self.failing: dict[str, tuple[str, int]] = {}  # what failed -> (error text, times in a row)
        self._after_draw: tuple[str, str, str] | None = None  # (view, action, title) run once drawn

    # -- layout ------------------------------------------------------------------------

    def compose(self) -> ComposeResult:
        yield Header(show_clock=False)
        yield Banner(id="banner")
        yield Static("", id="status")
        with ContentSwitcher(initial="view-overview", id="views"):
            yield OverviewView()  # the others are mounted when first shown
        with Vertical(id="prompt"):
            yield Input(id="prompt-input")
        yield Footer()

    def on_mount(self) -> None:
        self.query_one("#prompt").display = False
        self.focus_view()
        self._load(self.view, tick=False)  # the first frame does not wait for collectors

    def on_unmount(self) -> None:
        self.worker_log.close()

    @property
    def view(self) -> View:
        switcher = self.query_one("#views", ContentSwitcher)
        return self.query_one(f"#{switcher.current}", View)

    def view_named(self, name: str) -> View:
        """The view called `name`, mounted (hidden) the first time it is asked for."""
        switcher = self.query_one("#views", ContentSwitcher)
        found = switcher.query_children(f"#view-{name}")
        if found:
            return found.only_one(View)
        view = VIEW_CLASSES[name]()
        view.display = False
        self._mounting[name] = switcher.mount(view)
        return view

    def show_view(self, name: str) -> None:
        if self._after_draw is not None and self._after_draw[0] != name:
            self._after_draw = None  # the engineer went elsewhere: the palette's key is dropped
        self.view_named(name)
        if name in self._mounting:  # shown once its widgets exist
            self.call_next(self._show_when_mounted, name)
            return
        self.query_one("#views", ContentSwitcher).current = f"view-{name}"
        self.focus_view()
        self.refresh_bindings()
        self.refresh_view()

    async def _show_when_mounted(self, name: str) -> None:
        mounting = self._mounting.get(name)
        if mounting is not None:
            await mounting
            self._mounting.pop(name, None)
        self.show_view(name)

    def focus_view(self) -> None:
        """Keys go to the view's main table (its own bindings then apply)."""
        tables = self.view.query(DataTable)
        if tables:
            tables.last().focus() if isinstance(self.view, SqlView) else tables.first().focus()

    # -- refresh: one at a time; the next is armed when the previous finishes -------------

    @property
    def closing(self) -> bool:
        """Whether the app shuts down or its screen is gone: a late timer or message has nothing
        to draw on (shutdown prunes the widgets one by one, so `#views` may outlive `#status`)."""
        return not self.is_running or not self.query("#views")

    def refresh_view(self) -> None:
        if not self.closing:
            self._load(self.view)

    @work(thread=True, exclusive=True, group="refresh", exit_on_error=False)
    def _load(self, view: View, tick: bool = True, arm: bool = True) -> None:
        try:
            events = self.session.tick() if tick else []
        except Exception as exc:  # re-raised, named: the worker handler reports it
            raise StepFailed("engine tick", view.view_name) from exc
        try:
            data = view.load(self.session)
            if isinstance(data, Iterator):  # a view that draws in steps, cheapest first
                for part in data:
                    self.post_message(DataLoaded(view.view_name, part, [], final=False))
                data = None
        except Exception as exc:  # re-raised, named: the worker handler reports it
            raise StepFailed(f"reading {view.view_title}", view.view_name) from exc
        loaded = DataLoaded(view.view_name, data, events, banner=self.session.banner_lines())
        loaded.arm = arm
        self.post_message(loaded)

    def on_data_loaded(self, message: DataLoaded) -> None:
        if self.closing:
            return
        if message.events:
            self._announce(message.events)
        if message.banner is not None:
            self.query_one("#banner", Banner).show_lines(message.banner)
        self._report_read_ahead()
        if self._drawable(message):
            self._draw_view(message)
        self._draw_status()
        if message.final:
            self._after_final(message.view, message.arm)
            self._run_after_draw(message.view)

    def _report_read_ahead(self) -> None:
        while self.session.read_ahead_failures:  # read again since; still worth knowing
            name, error = self.session.read_ahead_failures.pop(0)
            self.report_failure(f"reading {name} at start", error, None, refresh=False)

    def _drawable(self, message: DataLoaded) -> bool:
        """Data for the view on screen, not hidden by the help."""
        return (
            message.data is not None
            and message.view == self.view.view_name
            and not isinstance(self.screen, HelpScreen)
        )

    def _announce(self, events: list[Event]) -> None:
        """Keep the last 50 events; notify the ones a person watching wants to hear about."""
        self.events = (self.events + events)[-50:]
        for event in events:
            if event.kind in ("alert", "serving", "collector", "incident", "canary"):
                alarming = "firing" in event.text or "DEGRADED" in event.text
                alarming = alarming or (event.kind == "canary" and "fail" in event.text)
                self.notify(
                    event.text,
                    title=event.kind,
                    markup=False,
                    severity="warning" if alarming else "information",
                    timeout=6,
                )

    def _draw_view(self, message: DataLoaded) -> None:
        try:
            self.view.draw(message.data)
            self.view.drawn_at = self.session.clock()
            self.recovered(message.view, "drawing")
        except Exception as exc:  # noqa: BLE001 - reported like a failed read; the loop goes on
            self.report_failure(f"drawing {self.view.view_title}", exc, self.view, refresh=False)

    def _after_final(self, view_name: str, arm: bool = True) -> None:
        """A refresh finished: its failures are over, and the next one is armed."""
        self.recovered(view_name, "engine tick", "reading")
        if not self._frozen:
            self._frozen = True  # once the first frame is out: no full-GC stalls later
            self.call_after_refresh(freeze_startup_objects)
        if self.refresh_seconds and arm:
            self.set_timer(self.refresh_seconds, self.refresh_view, name="refresh")

    def _draw_status(self) -> None:
        s = self.session
        where = "owner" if s.owner else f"read-only snapshot — {s.holder}"
        actions = "actions allowed" if not s.read_only else "read-only"
        if s.evaluator is not None:  # with `team:`: who evaluates the rules
            actions += f" · {s.evaluator.line()}"
        now = s.clock()
        self.query_one("#status", Static).update(
            Text.assemble(
                (self.view.view_title, "bold"),
                f" · {now:%Y-%m-%d %H:%M:%S} UTC · {where} · {actions}"
                + (f" · filter: {self.view.filter_text}" if self.view.filter_text else ""),
            ),
            layout=False,
        )  # one line, always

    # -- the prompt: `:` commands and `/` filters -----------------------------------------

    def action_command_line(self) -> None:
        self._open_prompt("command", "", "view: " + " ".join(COMMANDS))

    def action_filter(self) -> None:
        self._open_prompt("filter", self.view.filter_text, "filter the view (Esc clears)")

    def _open_prompt(self, mode: str, value: str, placeholder: str) -> None:
        self._mode = mode
        prompt = self.query_one("#prompt-input", Input)
        prompt.value, prompt.placeholder = value, placeholder
        prompt.border_title = ":" if mode == "command" else "/"
        self.query_one("#prompt").display = True
        prompt.focus()

    def _close_prompt(self) -> None:
        self._mode = None
        self.query_one("#prompt").display = False
        self.focus_view()

    def on_input_submitted(self, event: Input.Submitted) -> None:
        if event.input.id != "prompt-input":
            return
        text, mode = event.value.strip(), self._mode
        self._close_prompt()
        if mode == "filter":
            self.view.filter_text = text
            if isinstance(self.view, LogsView):
                self.view.page_offset = 0
                self.refresh_view()
            else:
                self.view.redraw()
            self._draw_status()
        elif mode == "command":
            self.run_command(text)

    def run_command(self, text: str) -> None:
        name = text.lstrip(":").split(" ", 1)[0].lower()
        name = ALIASES.get(name, name)
        if name == "quit":
            self.exit()
        elif name in COMMANDS:
            self.show_view(name)
        elif name:
            self.notify(
                f"unknown command :{name}; try " + ", ".join(f":{c}" for c in COMMANDS),
                severity="error",
                markup=False,
            )

    # -- keys -----------------------------------------------------------------------------

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action in ("rollback", "promote"):
            if not isinstance(self.view, ModelsView):
                return False
            return None if self.session.read_only else True  # shown but disabled
        if action == "silence":
            if not isinstance(self.view, AlertsView):
                return False
            return None if not self.session.owner else True
        return True

    def action_help(self) -> None:
        lines = [(f":{name}", title) for name, title in COMMANDS.items()]
        lines += [
            ("/", "filter the current view"),
            ("?", "this help"),
            ("enter", "open the selected row (nothing to open: show it whole)"),
            ("esc", "back"),
            ("r", "refresh now"),
            ("ctrl+p", "command palette: every view, command and key"),
            ("q", "quit"),
        ]
        self.push_screen(HelpScreen(f"{self.view.view_title} — keys", list(self.view.help_lines) + lines))

    async def action_back(self) -> None:
        if self._mode is not None:
            self._close_prompt()
        elif isinstance(self.focused, Input):
            self.focus_view()
        elif self.view.filter_text:
            self.view.filter_text = ""
            self.refresh_view() if isinstance(self.view, LogsView) else self.view.redraw()  # logs: read again
            self._draw_status()
        elif not isinstance(self.view, OverviewView):
            self.show_view("overview")

    def action_refresh(self) -> None:
        self.refresh_view()

    def action_drill(self) -> None:
        """Enter: on the Overview whichever panel has focus, the most urgent thing (its alerts
        panel: the selected alert); on :alerts the selected alert."""
        view = self.view
        chosen = view.selected_alert() if isinstance(view, (OverviewView, AlertsView)) else None
        if isinstance(view, OverviewView) and self.focused is not view.alerts_table:
            chosen = None  # whichever other panel has focus: the most urgent thing
        if chosen:
            self.push_screen(AlertDetailScreen(self.session, chosen))
        elif isinstance(view, OverviewView):
            self.open_most_urgent(view)

    def open_most_urgent(self, view: OverviewView) -> None:
        """The newest open incident's screen, else the most severe firing alert's detail."""
        target = view.most_urgent()
        if target is None:
            self.notify("nothing to open: no open incident, no alert firing", markup=False)
        elif target[0] == "incident":
            from console.tui.screens.incident import IncidentScreen

            self.push_screen(IncidentScreen(self.session, int(target[1])))
        else:
            self.push_screen(AlertDetailScreen(self.session, target[1]))

    def on_data_table_row_selected(self, event: DataTable.RowSelected) -> None:
        """An alert's row opens its detail; a row of a table with no drill of its own (it
        would have stopped the event) shows whole, every cell in full."""
        event.stop()
        if event.data_table.id in ("alerts-table", "overview-alerts"):
            self.push_screen(AlertDetailScreen(self.session, str(event.row_key.value)))
        else:
            self.push_screen(WholeRowScreen.of(event.data_table, event.row_key))

    # -- the command palette: views, commands and keys -------------------------------------

    def get_system_commands(self, screen: Screen[Any]) -> Iterable[SystemCommand]:
        views = [(cls.view_name, cls.view_title) for cls in VIEWS]
        commands = sorted({name for name in ALIASES.values() if name not in COMMANDS})
        yield from palette_commands(self, screen, views, commands, self.BINDINGS)
        for command in super().get_system_commands(screen):
            if command.title != "Quit":  # ours is listed, as q
                yield command._replace(title=f"console: {command.title}")

    def run_key_action(self, action: str, title: str) -> None:
        """A key chosen in the palette, run as if pressed; one that acts in another view
        (rollback on :models) shows that view and runs once it is drawn."""
        allowed = self.check_action(action, ())
        if allowed:
            self.call_later(self.run_action, action)
        elif allowed is None:
            self.notify(f"{title}: not allowed, this console is read-only", severity="warning", markup=False)
        elif action in HOME_VIEWS and self.view.view_name != HOME_VIEWS[action]:
            while len(self.screen_stack) > 1:  # from an incident or an alert: back to the views
                self.pop_screen()
            self._after_draw = (HOME_VIEWS[action], action, title)
            self.show_view(HOME_VIEWS[action])
        else:
            self.notify(f"{title}: not available here", severity="warning", markup=False)

    def _run_after_draw(self, view_name: str) -> None:
        pending = self._after_draw
        if pending is not None and pending[0] == view_name == self.view.view_name:
            self._after_draw = None
            self.run_key_action(pending[1], pending[2])

    def action_degrade(self) -> None:
        if self.session.trigger_degradation():
            self.notify(
                "the demo: CI deploys v4 now (if it has not yet), and it degrades", severity="warning"
            )

    def open_logs_at(self, alert: AlertRow) -> None:
        """From an alert: the logs of its service from its start."""
        if isinstance(self.screen, AlertDetailScreen):
            self.pop_screen()
        logs = self.view_named("logs")
        assert isinstance(logs, LogsView)
        logs.open_at(alert.active_since or alert.since, alert.labels.get("service"), self.session.clock())
        self.show_view("logs")
