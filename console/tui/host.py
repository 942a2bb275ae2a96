"""What the views and screens ask of the console app, without importing it (it imports them)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Protocol, cast

if TYPE_CHECKING:
    from textual.dom import DOMNode
    from textual.worker import Worker

    from console.runtime.session import Session
    from console.screens.overview import AlertRow


class ConsoleHost(Protocol):
    """The half of `console.tui.app.OncallApp` its views and screens call back into."""

    session: Session
    refresh_seconds: float

    def refresh_view(self) -> None: ...

    def show_view(self, name: str) -> None: ...

    def worker_failed(self, worker: Worker[Any], where: str = "") -> None: ...

    def open_logs_at(self, alert: AlertRow) -> None: ...

    def silence_alert(self, alert: AlertRow) -> None: ...


def host(node: DOMNode) -> ConsoleHost:
    """The console app `node` runs in (only OncallApp mounts views and screens)."""
    return cast("ConsoleHost", node.app)
