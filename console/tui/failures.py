"""Failed workers and refresh steps: notified once, logged with the traceback, never fatal."""

from __future__ import annotations

from contextlib import suppress
from typing import TYPE_CHECKING, Any

from textual.worker import Worker, WorkerState

from console.tui.widgets.banner import error_text

if TYPE_CHECKING:
    from textual.app import App

    from console.runtime.session import Session
    from console.tui.views.base import View
    from console.tui.worker_log import WorkerLog

    _App = App[None]
else:
    _App = object

MAX_BACKOFF = 60.0  # seconds between refreshes while one keeps failing


class StepFailed(Exception):
    """One step of a refresh raised: `what` names it, the original error is `__cause__`."""

    def __init__(self, what: str, view: str) -> None:
        super().__init__(what)
        self.what, self.view = what, view


class FailureReports(_App):
    """The console app's half that reports failures (harlequin's one StateChanged handler).

    It uses the app's `session`, `worker_log`, `failing`, `refresh_seconds`, `view_classes`,
    `closing`, `view_named`, `refresh_view`, `notify` and `set_timer`.
    """

    session: Session
    view_classes: dict[str, type[View]]
    worker_log: WorkerLog
    failing: dict[str, tuple[str, int]]
    refresh_seconds: float

    if TYPE_CHECKING:

        @property
        def closing(self) -> bool: ...

        def view_named(self, name: str) -> View: ...

        def refresh_view(self) -> None: ...

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        if event.state == WorkerState.ERROR and event.worker.error is not None:
            self.worker_failed(event.worker)

    def worker_failed(self, worker: Worker[Any], where: str = "") -> None:
        """Report a worker that raised (the screens' workers come here too, naming `where`)."""
        error = worker.error
        assert error is not None
        if isinstance(error, StepFailed) and error.__cause__ is not None:
            drawable = error.view in self.view_classes and not self.closing
            view = self.view_named(error.view) if drawable else None
            self.report_failure(error.what, error.__cause__, view, refresh=True)
            return
        label = (worker.name or worker.group).strip("_").replace("_", " ")
        self.report_failure(f"{where}: {label}" if where else label, error, None, refresh=False)

    def report_failure(self, what: str, error: BaseException, view: View | None, *, refresh: bool) -> None:
        """Notify once per distinct error, log the traceback, say so on the view, re-arm."""
        text = error_text(error)
        previous, count = self.failing.get(what, ("", 0))
        count = count + 1 if previous == text else 1
        self.failing[what] = (text, count)
        self._log_failure(what, error, count)
        if count == 1:
            self.notify(
                f"{what} failed: {text} (traceback in {self._log_name()})",
                severity="error",
                markup=False,
                timeout=10,
            )
        if view is not None:
            _show_failure(view, what, text)
        if refresh and self.refresh_seconds:
            delay = min(MAX_BACKOFF, self.refresh_seconds * 2 ** min(count - 1, 10))
            self.set_timer(delay, self.refresh_view, name="refresh")

    def _log_failure(self, what: str, error: BaseException, count: int) -> None:
        """The traceback the first time, a count after; a log that cannot be written is said once."""
        try:
            if count == 1:
                self.worker_log.failure(what, error)
            else:
                self.worker_log.repeat(what, count)
        except OSError as exc:
            if count == 1:
                self.notify(
                    f"could not write {self.worker_log.path}: {error_text(exc)}",
                    severity="error",
                    markup=False,
                )

    def recovered(self, view_name: str, *steps: str) -> None:
        """After steps that worked: say which failures are over; clear the view's line if all are."""
        view = self.view_named(view_name)
        names = {
            "engine tick": "engine tick",
            "reading": f"reading {view.view_title}",
            "drawing": f"drawing {view.view_title}",
        }
        for what in (names[step] for step in steps):
            if self.failing.pop(what, None) is not None:
                self.notify(f"recovered: {what} works again", markup=False)
                with suppress(OSError):  # the failure that opened the log already said it cannot be written
                    self.worker_log.note(f"{what} recovered")
        if not any(what in self.failing for what in names.values()):
            view.show_read_error("")

    def _log_name(self) -> str:
        path = self.worker_log.path
        root = self.session.workspace.root
        return str(path.relative_to(root)) if path.is_relative_to(root) else str(path)


def _show_failure(view: View, what: str, text: str) -> None:
    drawn = f" — showing what was read at {view.drawn_at:%H:%M:%S} UTC" if view.drawn_at else ""
    view.show_read_error(f"could not {'refresh' if 'tick' in what else 'read'}: {what}: {text}{drawn}")
