"""Enter on a log line: every field it was stored with, escaped, never read as markup."""

from __future__ import annotations

import json
from typing import Any

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Label, Static

from console.core.output import cell


def field_rows(record: dict[str, Any]) -> list[tuple[str, str]]:
    """(name, value) for each field of a line, its attributes one row each, in stored order."""
    rows: list[tuple[str, str]] = []
    for name, value in record.items():
        if name == "attributes" and isinstance(value, dict):
            rows += [(f"attributes.{k}", _shown(v)) for k, v in value.items()]
        elif name == "ts" and value is not None:
            rows.append((name, value.isoformat(sep=" ")))
        elif name == "parse_error" and value is None:
            continue  # only said when the line did not parse
        else:
            rows.append((name, _shown(value)))
    return rows


def _shown(value: Any) -> str:
    if isinstance(value, (dict, list)):
        return cell(json.dumps(value, ensure_ascii=False))
    return cell(value)


class LogLineScreen(ModalScreen[None]):
    """One log line, field by field; Esc closes."""

    BINDINGS = [Binding("escape,q,enter", "dismiss", "Close")]
    DEFAULT_CSS = "#log-line-scroll { height: auto; max-height: 32; }"

    def __init__(self, record: dict[str, Any]) -> None:
        super().__init__()
        self.rows = field_rows(record)

    def compose(self) -> ComposeResult:
        width = max((len(name) for name, _ in self.rows), default=4)
        body = Text()
        for name, value in self.rows:
            body.append(name.ljust(width), style="bold").append(f"  {value}\n")
        with Vertical(id="dialog"):
            yield Label(Text("Log line — every field", style="bold"))
            with VerticalScroll(id="log-line-scroll"):
                yield Static(body, id="log-line-fields")
            yield Label(Text("Esc to close", style="dim"))

    async def action_dismiss(self, result: None = None) -> None:
        self.dismiss(None)
