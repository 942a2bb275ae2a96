"""The console when it cannot start: every problem, `r` to try again, `q` to quit."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from rich.text import Text
from textual import work
from textual.app import App, ComposeResult
from textual.binding import Binding
from textual.widgets import Footer, Header, Static
from textual.worker import Worker, WorkerState

from console.tui.widgets.banner import Banner, error_text


class StillBroken(Exception):
    """An attempt to start failed again; `problems` are the lines to show."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("\n".join(problems))
        self.problems = problems


class BrokenWorkspaceApp(App[Any]):
    """Shows why `subject` did not load; on `r` runs `attempt()` (raising StillBroken while it
    fails, in a thread) and exits with its result once it works."""

    CSS_PATH = Path(__file__).with_name("app.tcss")
    TITLE = "oncall"
    BINDINGS = [Binding("r", "reload", "Reload"), Binding("q", "quit", "Quit")]

    def __init__(
        self,
        subject: str,
        problems: list[str],
        attempt: Callable[[], Any],
        *,
        what_to_fix: str = "Fix the file",
    ) -> None:
        super().__init__()
        self.subject, self.problems, self.attempt = subject, problems, attempt
        self.what_to_fix = what_to_fix
        self.sub_title = f"{subject} did not load"

    def compose(self) -> ComposeResult:
        yield Header(show_clock=False)
        yield Banner(id="banner")
        yield Static("", id="broken-hint")
        yield Footer()

    def on_mount(self) -> None:
        self._show(self.problems)

    def _show(self, problems: list[str]) -> None:
        self.problems = problems
        self.query_one("#banner", Banner).show_lines(problems)
        count = f"{len(problems)} problem{'s' * (len(problems) != 1)}"
        subject = self.subject[:1].upper() + self.subject[1:]
        self.query_one("#broken-hint", Static).update(
            Text(
                f"{subject} did not load ({count} above), so the console has no store open: "
                f"nothing is collected or evaluated.\n\n{self.what_to_fix}, then press r to reload "
                "(the console opens once it loads); q quits.",
                style="bold",
            )
        )

    def action_reload(self) -> None:
        self._reload()

    @work(thread=True, exclusive=True, group="reload", exit_on_error=False)
    def _reload(self) -> None:
        try:
            result = self.attempt()
        except StillBroken as exc:
            self.call_from_thread(self._still_broken, exc.problems)
            return
        self.call_from_thread(self.exit, result)

    def _still_broken(self, problems: list[str]) -> None:
        self._show(problems)
        self.notify(
            f"{self.subject} still does not load: {len(problems)} problem(s)",
            severity="warning",
            markup=False,
        )

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        if event.state == WorkerState.ERROR and event.worker.error is not None:
            text = f"reloading {self.subject} failed: {error_text(event.worker.error)}"
            self.notify(text, severity="error", markup=False, timeout=10)
            self._show(self.problems if text in self.problems else [*self.problems, text])
