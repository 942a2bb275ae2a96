"""The console on a workspace that does not load: every problem, `r` to reload, `q` to quit."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from rich.text import Text
from textual import work
from textual.app import App, ComposeResult
from textual.binding import Binding
from textual.widgets import Footer, Header, Static
from textual.worker import Worker, WorkerState

from console.session import relative_problem
from console.tui.banner import Banner, error_text
from console.workspace import WorkspaceError, load_workspace


def workspace_problems(error: WorkspaceError, root: Path) -> list[str]:
    """Each problem of a workspace that did not load, `file:line: …` relative to `root`."""
    return [relative_problem(p, root) for p in error.problems]


class BrokenWorkspaceApp(App[Any]):
    """Shows why `path` did not load; exits with the workspace once it loads again."""

    CSS_PATH = Path(__file__).with_name("app.tcss")
    TITLE = "oncall"
    BINDINGS = [Binding("r", "reload", "Reload"), Binding("q", "quit", "Quit")]

    def __init__(self, path: Path, problems: list[str]) -> None:
        super().__init__()
        self.path, self.problems = path, problems
        self.sub_title = f"{path.name} did not load"

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
        self.query_one("#broken-hint", Static).update(Text(
            f"The workspace {self.path} did not load ({count} above), so no store is open and "
            "nothing is collected or evaluated.\n\nFix the file, then press r to reload "
            "(the console opens once it loads); q quits.", style="bold"))

    def action_reload(self) -> None:
        self._reload()

    @work(thread=True, exclusive=True, group="reload", exit_on_error=False)
    def _reload(self) -> None:
        try:
            workspace = load_workspace(self.path)
        except WorkspaceError as exc:
            self.call_from_thread(self._still_broken, workspace_problems(exc, self.path.parent))
            return
        self.call_from_thread(self.exit, workspace)

    def _still_broken(self, problems: list[str]) -> None:
        self._show(problems)
        self.notify(f"{self.path.name} still does not load: {len(problems)} problem(s)",
                    severity="warning", markup=False)

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        if event.state == WorkerState.ERROR and event.worker.error is not None:
            text = f"reloading {self.path.name} failed: {error_text(event.worker.error)}"
            self.notify(text, severity="error", markup=False, timeout=10)
            self._show(self.problems[:] if text in self.problems else self.problems + [text])
