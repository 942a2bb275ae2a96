"""The command palette (ctrl+p): every view, command and action key, each named by its kind.

`view: Alerts (:alerts)`, `command: Quit (:quit)`, `action: Rollback (R)`: typing part of a
name finds it ("roll" finds the rollback). The keys listed are the console's own, the current
view's and, over another screen (an incident, an alert), that screen's; Textual's own commands
(theme, keys, screenshot) follow as `console: …`.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from functools import partial
from typing import TYPE_CHECKING, Any, Protocol

from textual.actions import parse
from textual.app import SystemCommand
from textual.binding import Binding, BindingType

if TYPE_CHECKING:
    from textual.dom import DOMNode
    from textual.screen import Screen

    from console.tui.views.base import View

# titles for the console's keys whose footer label is terse; the rest use the footer's
TITLES = {
    "command_line": ("Command line", "type a view or a command after :"),
    "filter": ("Filter the view", "show only the rows with every word typed (Esc clears)"),
    "help": ("Help", "the keys of this view and the : commands"),
    "drill": ("Open", "open the selected row; on the Overview, the most urgent thing"),
    "back": ("Back", "close the prompt, clear the filter, or back to the Overview"),
    "silence": ("Silence", "silence the selected alert's label set (on :alerts)"),
    "rollback": ("Rollback", "roll the selected model's champion back (on :models)"),
    "promote": ("Promote", "promote the selected version to champion (on :models)"),
    "degrade": ("Degrade now (demo)", "the demo's CI deploys v4 now, and it misbehaves at once"),
    "refresh": ("Refresh", "read the store again now"),
    "quit": ("Quit", "leave the console"),
}


class PaletteHost(Protocol):
    """What the palette asks of the console app (`console.tui.app.OncallApp`)."""

    @property
    def view(self) -> View: ...

    def show_view(self, name: str) -> None: ...

    def run_key_action(self, action: str, title: str) -> None: ...

    def get_key_display(self, binding: Binding) -> str: ...

    def notify(self, message: str, *, severity: Any = ..., markup: bool = ...) -> Any: ...

    async def run_action(self, action: str, default_namespace: DOMNode | None = None) -> bool: ...


def palette_commands(
    app: PaletteHost,
    screen: Screen[Any],
    views: Iterable[tuple[str, str]],
    commands: Iterable[str],
    keys: Iterable[BindingType],
) -> Iterator[SystemCommand]:
    """The palette's entries over `screen`: views (name, title), `:` commands, then the keys of
    the screen or view on it, then the console's own `keys`."""
    for name, title in views:
        yield SystemCommand(f"view: {title} (:{name})", f"show {title}", partial(app.show_view, name))
    for name in commands:
        yield SystemCommand(
            f"command: {name.title()} (:{name})",
            f"the :{name} command",
            partial(app.run_key_action, name, name),
        )
    if screen.is_modal:
        return
    if screen is not screen.app.screen_stack[0]:  # an incident or an alert: that screen's keys first
        node: DOMNode = screen
        where = f"on this {type(screen).__name__.removesuffix('Screen').lower()}"
    else:
        node, where = app.view, f"on :{app.view.view_name}"
    own = list(_bindings(getattr(type(node), "BINDINGS", [])))
    yield from _node_keys(app, node, own, where)
    shadowed = {binding.key for binding in own}  # the screen's key wins where both bind one
    for binding in _bindings(keys):
        if binding.key in shadowed:
            continue
        title, help_text = TITLES.get(binding.action, (binding.description, binding.description))
        yield SystemCommand(
            f"action: {title} ({app.get_key_display(binding)})",
            help_text,
            partial(app.run_key_action, binding.action, title),
        )


def _bindings(bindings: Iterable[BindingType]) -> Iterator[Binding]:
    """Each action once (a binding on several keys lists its first)."""
    seen: set[str] = set()
    for binding in Binding.make_bindings(bindings):
        if binding.action not in seen:
            seen.add(binding.action)
            yield binding


def _node_keys(app: PaletteHost, node: DOMNode, own: list[Binding], where: str) -> Iterator[SystemCommand]:
    for binding in own:
        if binding.action.startswith("app."):  # the console's own, listed after
            continue
        title = binding.description or binding.action
        yield SystemCommand(
            f"action: {title} ({app.get_key_display(binding)})",
            binding.tooltip or f"{title} {where}",
            partial(_run_on, app, node, binding.action, title),
        )


async def _run_on(app: PaletteHost, node: DOMNode, action: str, title: str) -> None:
    """Run a screen's or view's key as if pressed there (its `check_action` too)."""
    _, name, params = parse(action)
    if not node.is_attached:
        return
    if node.check_action(name, params) is not True:
        app.notify(f"{title}: not available here", severity="warning", markup=False)
        return
    await app.run_action(action, node)
