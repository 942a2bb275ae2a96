"""`oncall drift --report FILE.md|FILE.html`: the verdicts and each column's reference and current
histograms in one file.

Column names and values come from the data, so every one is escaped: control characters shown as
escapes first, then HTML entities (HTML) or Markdown escapes. The HTML has no script, no external
link and no stylesheet but its own.
"""

from __future__ import annotations

import html
import os
from pathlib import Path
from types import SimpleNamespace
from typing import TYPE_CHECKING, Any, cast

from console.cli.commands.drift_common import HEADINGS, Outcome, exit_line, summary_line, table_row
from console.cli.commands.drift_options import WHY_LEFT_OUT
from console.cli.context import CliError
from console.core.terminal import escape

if TYPE_CHECKING:
    from console.cli.commands.drift_analysis import Analysis

KINDS = {".md": "md", ".markdown": "md", ".html": "html", ".htm": "html"}
BINS = 10
BAR_WIDTH = 30  # characters of the widest Markdown bar
_MD_SPECIAL = set("\\`*_[]|~")


def report_kind(path: str) -> str:
    """ "md" or "html" by the file's suffix; a usage error otherwise."""
    kind = KINDS.get(Path(path).suffix.lower())
    if kind is None:
        raise CliError(f"--report {path}: use a .md or .html file")
    return kind


def write_report(
    path: str,
    analysis: Analysis,
    left_out: dict[str, str],
    found: Outcome,
    reference: Any,
    current: Any,
    title: str,
) -> None:
    """Write the report (0600, replacing the file); a one-line CliError if it cannot be written."""
    sections = _Sections(analysis, left_out, found, reference, current, title)
    text = sections.html() if report_kind(path) == "html" else sections.markdown()
    try:
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
            handle.write(text)
    except OSError as exc:
        raise CliError(f"--report {path}: cannot write: {exc.strerror or exc}") from None


def _histograms(analysis: Analysis, reference: Any, current: Any) -> list[dict[str, Any]]:
    from console.drift.windows import histogram

    sides = cast(Any, SimpleNamespace(drift=analysis.drift, reference=reference, current=current))
    return [histogram(sides, c.column, BINS) for c in analysis.drift.columns]


class _Sections:
    """The report's parts as text, then laid out as Markdown or HTML."""

    def __init__(
        self,
        analysis: Analysis,
        left_out: dict[str, str],
        found: Outcome,
        reference: Any,
        current: Any,
        title: str,
    ) -> None:
        self.title = title
        self.rows = [[_text(v) for v in table_row(c)] for c in analysis.drift.columns]
        self.summary = [summary_line(analysis.drift), exit_line(found)]
        self.excluded = [(c, WHY_LEFT_OUT[role]) for c, role in left_out.items()]
        quality = analysis.quality
        self.problems = list(quality.problems) if quality is not None else []
        self.quality_checked = quality is not None
        self.histograms = _histograms(analysis, reference, current)

    def markdown(self) -> str:
        lines = [f"# Drift report: {_md(self.title)}", ""]
        lines += [f"- {_md(s)}" for s in self.summary] + [""]
        lines += [*_md_table(HEADINGS, self.rows), ""]
        lines += [f"- excluded: {_md(c)}: {_md(why)}" for c, why in self.excluded]
        lines += ["", "## Data quality", "", *self._quality_lines(_md), ""]
        for item in self.histograms:
            lines += [*_md_histogram(item), ""]
        return "\n".join(lines)

    def _quality_lines(self, esc: Any) -> list[str]:
        if not self.quality_checked:
            return ["- not checked (--no-quality)"]
        return [f"- {esc(p)}" for p in self.problems] or ["- no problems"]

    def html(self) -> str:
        parts = [
            "<!DOCTYPE html>",
            '<html lang="en"><head><meta charset="utf-8">',
            "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; style-src 'unsafe-inline'\">",
            f"<title>Drift report: {_h(self.title)}</title><style>{_CSS}</style></head><body>",
            f"<h1>Drift report: {_h(self.title)}</h1>",
            "<ul>" + "".join(f"<li>{_h(s)}</li>" for s in self.summary) + "</ul>",
            _html_table(HEADINGS, self.rows),
        ]
        if self.excluded:
            items = "".join(f"<li>{_h(c)}: {_h(why)}</li>" for c, why in self.excluded)
            parts.append(f"<h2>Excluded</h2><ul>{items}</ul>")
        parts.append("<h2>Data quality</h2><ul>" + "".join(self._quality_items()) + "</ul>")
        parts += [_html_histogram(item) for item in self.histograms]
        parts.append("</body></html>")
        return "\n".join(parts) + "\n"

    def _quality_items(self) -> list[str]:
        return [f"<li>{line[2:]}</li>" for line in self._quality_lines(_h)]


def _text(value: Any) -> str:
    return value if isinstance(value, str) else str(value)


def _h(value: Any) -> str:
    return html.escape(escape(value), quote=True)


def _md(value: Any) -> str:
    """Inert Markdown: control characters as escapes, HTML as entities, Markdown syntax backslashed."""
    text = html.escape(escape(value), quote=False)
    return "".join("\\" + ch if ch in _MD_SPECIAL else ch for ch in text)


def _md_table(headings: list[str], rows: list[list[str]]) -> list[str]:
    lines = ["| " + " | ".join(headings) + " |", "|" + "---|" * len(headings)]
    return lines + ["| " + " | ".join(_md(cell) for cell in row) + " |" for row in rows]


def _md_histogram(item: dict[str, Any]) -> list[str]:
    lines = [f"### {_md(item['column'])} ({_md(item['kind'])})", ""]
    if not item["labels"]:
        return [*lines, "no data on either side"]
    widest = max([*item["reference"], *item["current"], 1e-12])
    lines += ["| bin | reference | | current | |", "|---|---:|---|---:|---|"]
    for label, ref, cur in zip(item["labels"], item["reference"], item["current"]):
        lines.append(
            f"| {_md(label)} | {ref:.1%} | `{_bar(ref, widest)}` | {cur:.1%} | `{_bar(cur, widest)}` |"
        )
    return lines


def _bar(share: float, widest: float) -> str:
    return "█" * round(share / widest * BAR_WIDTH) or "·"


def _html_table(headings: list[str], rows: list[list[str]]) -> str:
    head = "".join(f"<th>{_h(h)}</th>" for h in headings)
    body = "".join(
        "<tr"
        + (' class="drift"' if "DRIFT" in row else "")
        + ">"
        + "".join(f"<td>{_h(c)}</td>" for c in row)
        + "</tr>"
        for row in rows
    )
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _html_histogram(item: dict[str, Any]) -> str:
    heading = f"<h3>{_h(item['column'])} <small>({_h(item['kind'])})</small></h3>"
    if not item["labels"]:
        return heading + "<p>no data on either side</p>"
    widest = max([*item["reference"], *item["current"], 1e-12])
    rows = "".join(
        f"<tr><td>{_h(label)}</td>{_html_bar('ref', ref, widest)}{_html_bar('cur', cur, widest)}</tr>"
        for label, ref, cur in zip(item["labels"], item["reference"], item["current"])
    )
    head = "<tr><th>bin</th><th>reference</th><th>current</th></tr>"
    return f'{heading}<table class="hist"><thead>{head}</thead><tbody>{rows}</tbody></table>'


def _html_bar(side: str, share: float, widest: float) -> str:
    width = f"{share / widest * 100:.1f}"
    return f'<td><span class="bar {side}" style="width:{width}%"></span> {share:.1%}</td>'


_CSS = (
    "body{font-family:system-ui,sans-serif;margin:2em;color:#222}"
    "table{border-collapse:collapse;margin:1em 0}td,th{border:1px solid #ccc;padding:2px 8px;text-align:left}"
    "tr.drift td{background:#fde2e1}"
    ".hist td{min-width:14em}.bar{display:inline-block;height:0.8em;vertical-align:middle}"
    ".bar.ref{background:#7a9cc6}.bar.cur{background:#e0915a}"
)
