"""Live refresh: another console's write (the session's team listener) redraws what is on screen.

The listener calls back in its own thread; the app gets a `LiveChanged` message (posting never
blocks the listener, even while the app shuts down) and asks each screen to read again through
a `Coalesced` refresh: one read in flight at a time, and changes heard meanwhile make exactly
one more read once it finishes.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from textual.message import Message
from textual.worker import Worker

if TYPE_CHECKING:
    from textual.app import App
    from textual.screen import Screen

    from console.runtime.session import Session

    _App = App[None]
    _Screen = Screen[None]
else:
    _App = _Screen = object


class LiveChanged(Message):
    """The team database changed: `tables` (every shared table after a reconnection)."""

    def __init__(self, tables: frozenset[str]) -> None:
        super().__init__()
        self.tables = tables


class Coalesced:
    """Starts a refresh worker on demand, never two at once; a demand while one runs is kept
    and served when it finishes (`finished` is called from the owner's Worker.StateChanged).

    `running` finds a refresh of the same group already under way (e.g. the periodic one): it
    is waited for rather than cancelled, since an exclusive worker cancelled before its thread
    started never runs, and the periodic refresh re-arms itself only when it has run."""

    def __init__(self, start: Callable[[], Worker[Any]], running: Callable[[], Worker[Any] | None]) -> None:
        self._start, self._running = start, running
        self.worker: Worker[Any] | None = None
        self.due = False
        self.started = 0  # how many refreshes it ran

    def demand(self) -> None:
        under_way = self._running()
        if under_way is not None:
            self.worker = under_way
        if self.worker is not None and not self.worker.is_finished:
            self.due = True
            return
        self.due = False
        self.started += 1
        self.worker = self._start()

    def finished(self, worker: Worker[Any]) -> None:
        if worker is self.worker and worker.is_finished and self.due:
            self.demand()


def running(node: Any, group: str) -> Worker[Any] | None:
    """`node`'s worker of `group` that has not finished, if any."""
    found = [w for w in node.app.workers if w.group == group and w.node is node and not w.is_finished]
    return found[-1] if found else None


class LiveScreen(_Screen):
    """A screen mixin: `live_reload()` runs the screen's `reload` worker, coalesced."""

    if TYPE_CHECKING:

        def reload(self) -> Worker[Any]: ...

    def live_reload(self) -> None:
        """The team database changed (the app heard it): read again, one read at a time."""
        if self.is_mounted:
            self._live_reads.demand()

    @property
    def _live_reads(self) -> Coalesced:
        found = self.__dict__.get("_live_coalesced")
        if found is None:
            found = self.__dict__["_live_coalesced"] = Coalesced(
                self.reload, lambda: running(self, "incident-load")
            )
        return found

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        self._live_reads.finished(event.worker)  # (Textual calls the screen's own handler too)


class LiveConsole(_App):
    """The console app's half that redraws on other consoles' writes (a team session only)."""

    session: Session

    if TYPE_CHECKING:

        @property
        def closing(self) -> bool: ...

        @property
        def view(self) -> Any: ...  # a View (the views import the screens, which import this)

        def _load(self, view: Any, tick: bool = True, arm: bool = True) -> Worker[Any]: ...

    _unsubscribe_live: Callable[[], None] | None = None

    def on_mount(self) -> None:
        if self.session.live is not None:
            self._unsubscribe_live = self.session.live.subscribe(self._heard)

    def _heard(self, tables: frozenset[str]) -> None:
        """In the listener's thread: posting is thread-safe and never blocks it."""
        self.post_message(LiveChanged(tables))

    def on_unmount(self) -> None:
        if self._unsubscribe_live is not None:
            self._unsubscribe_live()

    @property
    def _live_reads(self) -> Coalesced:
        found = self.__dict__.get("_live_coalesced")
        if found is None:  # no engine tick: a live refresh only reads
            found = self.__dict__["_live_coalesced"] = Coalesced(
                lambda: self._load(self.view, tick=False, arm=False), lambda: running(self, "refresh")
            )
        return found

    def on_live_changed(self, message: LiveChanged) -> None:
        """Another console wrote: read the view on screen again, and the incident screens open."""
        if self.closing:
            return
        self._live_reads.demand()
        for screen in self.screen_stack:
            if isinstance(screen, LiveScreen):
                screen.live_reload()

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        self._live_reads.finished(event.worker)  # (failures: FailureReports' handler, called too)
