"""The Models view: every registered version with its aliases, and the recent changes."""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from rich.text import Text
from textual.app import ComposeResult
from textual.widgets import DataTable, Static

from console.core.output import cell
from console.screens import overview as v
from console.tui.views.base import View, data_table
from console.tui.widgets.tables import matches, selected_key, sync_table

if TYPE_CHECKING:
    from console.registry.base import Registry
    from console.runtime.session import Session


def version_rows(registry: Registry) -> Iterator[tuple[Any, ...]]:
    """(model, version, aliases, created, metrics, source) of each version, newest first per model."""
    from console.registry.base import version_key

    for model in registry.list_models():
        versions = sorted(
            registry.list_versions(model.name), key=lambda m: version_key(m.version), reverse=True
        )
        for mv in versions:
            aliases = [a for a, ver in model.aliases.items() if ver == mv.version]
            yield (
                model.name,
                mv.version,
                ",".join(sorted(aliases)),
                mv.created_at,
                ", ".join(f"{k}={x:g}" for k, x in sorted(mv.metrics.items())),
                mv.source or "",
            )


def _marks(session: Session, models: set[str]) -> dict[tuple[str, str], str]:
    """The standing rollback marks, as the models table shows them: `bad (#7)`."""
    from console.registry.marks import marks

    shown = {}
    for model in models:
        for version, mark in marks(session.store, model).items():
            where = f" (#{mark.incident_id})" if mark.incident_id is not None else ""
            shown[(model, version)] = f"bad{where}"
    return shown


class ModelsView(View):
    view_name, view_title = "models", "Models"
    help_lines = [
        ("R", "roll the selected model's champion back (plan, reason, confirm)"),
        ("P", "promote the selected version to champion"),
    ]

    def compose(self) -> ComposeResult:
        yield Static("", id="models-status")
        yield data_table(
            "models-table", "model", "version", "aliases", "marked", "created", "metrics", "source"
        )
        yield Static("Recent changes", classes="title")
        yield data_table("changes-table", "time", "kind", "model", "version", "actor")

    def load(self, session: Session) -> dict[str, Any]:
        rows: list[tuple[Any, ...]] = []
        error = ""
        try:
            _, registry = session.registry()
            try:
                for row in version_rows(registry):  # the rows read before a failure are shown
                    rows.append(row)
            finally:
                registry.close()
        except Exception as exc:  # noqa: BLE001 - an unreachable registry is shown, not raised
            error = str(exc).splitlines()[0]
        return {
            "rows": rows,
            "marks": _marks(session, {r[0] for r in rows}),
            "error": error,
            "changes": v.recent_changes(session.store),
            "read_only": session.read_only,
        }

    def draw(self, data: Any) -> None:
        self.data = data
        mode = (
            "read-only: actions disabled"
            if data["read_only"]
            else "R rollback · P promote (asks for a reason)"
        )
        self.query_one("#models-status", Static).update(
            Text(data["error"], style="red") if data["error"] else mode
        )
        marked = data["marks"]
        rows = [
            (f"{r[0]}/{r[1]}", (r[0], r[1], r[2], marked.get((r[0], r[1]), ""), cell(r[3]), r[4], r[5]))
            for r in data["rows"]
            if matches((*r, marked.get((r[0], r[1]), "")), self.filter_text)
        ]
        sync_table(self.query_one("#models-table", DataTable), rows)
        sync_table(
            self.query_one("#changes-table", DataTable),
            [(str(i), tuple(cell(x) for x in c)) for i, c in enumerate(data["changes"])],
        )

    def selected(self) -> tuple[str, str] | None:
        key = selected_key(self.query_one("#models-table", DataTable))
        if not key:
            return None
        model, _, version = key.rpartition("/")
        return model, version
