"""Modal screens: help, an action's plan with its confirmation, a new silence."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Input, Label, Static

if TYPE_CHECKING:
    from console.playbooks.context import Preview


class HelpScreen(ModalScreen[None]):
    """`?`: the keys of the current view and the `:` commands."""

    BINDINGS = [Binding("escape,q,question_mark", "dismiss", "Close")]

    def __init__(self, title: str, lines: list[tuple[str, str]]) -> None:
        super().__init__()
        self.title_text, self.lines = title, lines

    def compose(self) -> ComposeResult:
        width = max((len(k) for k, _ in self.lines), default=4)
        body = Text()
        for key, text in self.lines:
            body.append(key.ljust(width), style="bold").append(f"  {text}\n")
        with Vertical(id="dialog"):
            yield Label(Text(self.title_text, style="bold"))
            yield Static(body, id="help-body")
            yield Label("[dim]Esc to close[/dim]")

    async def action_dismiss(self, result: None = None) -> None:
        self.dismiss(None)


@dataclass
class Confirmation:
    reason: str
    typed_name: str | None


def step_confirmation(preview: Preview) -> tuple[str, str, str | None]:
    """What the confirm dialog shows for a playbook's next step: title, body, the name to type if protected."""
    if preview.plan is not None:
        plan = preview.plan
        return (
            f"{plan.kind}: {plan.model or preview.title}",
            plan.text,
            plan.model if plan.protected else None,
        )
    return f"run: {preview.title}", "argv: " + " ".join(repr(a) for a in preview.argv or []), None


class PlanModal(ModalScreen[Confirmation | None]):
    """Shows what an action will change and asks for a reason (and the name, if protected)."""

    BINDINGS = [Binding("escape", "cancel", "Cancel")]

    def __init__(self, title: str, plan_text: str, *, protected_name: str | None = None) -> None:
        super().__init__()
        self.title_text, self.plan_text, self.protected_name = title, plan_text, protected_name

    def compose(self) -> ComposeResult:
        with Vertical(id="dialog"):
            yield Label(Text(self.title_text, style="bold"))
            yield Static(self.plan_text, id="plan", markup=False)
            yield Input(placeholder="reason (required, goes in the audit log)", id="reason")
            if self.protected_name:
                yield Input(placeholder=f"protected: type {self.protected_name} to confirm", id="typed")
            yield Label("", id="error")
            with Horizontal(id="buttons"):
                yield Button("Apply", variant="error", id="apply")
                yield Button("Cancel", id="cancel")

    def on_input_submitted(self) -> None:
        self._apply()

    def on_button_pressed(self, event: Button.Pressed) -> None:
        if event.button.id == "apply":
            self._apply()
        else:
            self.dismiss(None)

    def _apply(self) -> None:
        reason = self.query_one("#reason", Input).value.strip()
        typed = self.query_one("#typed", Input).value.strip() if self.protected_name else None
        error = self.query_one("#error", Label)
        if not reason:
            error.update("[red]a reason is required[/red]")
            self.query_one("#reason", Input).focus()
            return
        if self.protected_name and typed != self.protected_name:
            error.update(Text(f"type {self.protected_name} exactly to confirm", style="red"))
            self.query_one("#typed", Input).focus()
            return
        self.dismiss(Confirmation(reason, typed))

    def action_cancel(self) -> None:
        self.dismiss(None)


@dataclass
class SilenceRequest:
    duration: str
    comment: str


class SilenceModal(ModalScreen[SilenceRequest | None]):
    """Silence an alert's label set for a while, with a comment."""

    BINDINGS = [Binding("escape", "cancel", "Cancel")]

    def __init__(self, matchers_text: str) -> None:
        super().__init__()
        self.matchers_text = matchers_text

    def compose(self) -> ComposeResult:
        with Vertical(id="dialog"):
            yield Label("[b]New silence[/b]")
            yield Static(self.matchers_text, markup=False)
            yield Input(value="2h", placeholder="duration, e.g. 30m, 2h", id="duration")
            yield Input(placeholder="comment (required)", id="comment")
            yield Label("", id="error")

    def on_input_submitted(self) -> None:
        from console.config.durations import parse_duration

        duration = self.query_one("#duration", Input).value.strip()
        comment = self.query_one("#comment", Input).value.strip()
        try:
            parse_duration(duration)
        except ValueError as exc:
            self.query_one("#error", Label).update(Text(str(exc), style="red"))
            return
        if not comment:
            self.query_one("#error", Label).update("[red]a comment is required[/red]")
            self.query_one("#comment", Input).focus()
            return
        self.dismiss(SilenceRequest(duration, comment))

    def action_cancel(self) -> None:
        self.dismiss(None)
