"""What `oncall drift` on two files and `oncall drift MODEL` share: option values and the report."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from console.cli.context import CliError, Context
from console.core.output import render
from console.core.terminal import escape

if TYPE_CHECKING:
    from console.drift.quality import QualityReport
    from console.drift.stats import ColumnDrift, DatasetDrift


def pairs(items: list[str], flag: str, convert: Callable[[str], Any] = str) -> dict[str, Any]:
    """COLUMN=VALUE options as a dict; a one-line CliError naming the flag otherwise."""
    values: dict[str, Any] = {}
    for item in items:
        name, sep, value = item.rpartition("=")
        if not sep or not name or not value:
            raise CliError(f"{flag} {item!r}: expected COLUMN=VALUE")
        try:
            values[name] = convert(value)
        except ValueError:
            raise CliError(f"{flag} {item!r}: {value!r} is not a number") from None
    return values


def column_names(option: str) -> list[str]:
    """--columns A,B: the names, blanks ignored."""
    return [c.strip() for c in option.split(",") if c.strip()]


def column_kinds(items: list[str]) -> dict[str, str]:
    """--column-type COL=num|cat options."""
    return {column: kind(value) for column, value in pairs(items, "--column-type").items()}


def kind(value: str) -> str:
    aliases = {"num": "num", "numeric": "num", "numerical": "num", "cat": "cat", "categorical": "cat"}
    if value.lower() not in aliases:
        raise CliError(f"--column-type: {value!r} is not num or cat")
    return aliases[value.lower()]


def print_report(ctx: Context, drift: DatasetDrift, quality: QualityReport | None) -> None:
    """The per-column table, the dataset verdict and the quality findings."""
    rows = [
        (
            c.column,
            c.kind,
            c.method or "",
            c.score if c.score is not None else float("nan"),
            c.threshold,
            _verdict(c),
            c.reference_rows,
            c.current_rows,
        )
        for c in drift.columns
    ]
    ctx.out(
        render(
            ["column", "type", "test", "score", "threshold", "verdict", "ref rows", "cur rows"], rows, "table"
        )
    )
    ctx.out("")
    ctx.out(_summary(drift))
    if quality is not None:
        ctx.out(
            f"quality: {quality.current_rows} current rows, {quality.reference_rows} reference rows; "
            + ("no problems" if not quality.problems else f"{len(quality.problems)} problem(s)")
        )
        for problem in quality.problems:
            ctx.out(f"  - {escape(problem)}")


def _verdict(column: ColumnDrift) -> str:
    if column.status != "ok":
        return column.status
    return "DRIFT" if column.drifted else "ok"


def _summary(drift: DatasetDrift) -> str:
    tested = sum(1 for c in drift.columns if c.status == "ok")
    if drift.share is None:
        return "dataset drift: no data (no column had data on both sides)"
    verdict = "yes" if drift.drifted else "no"
    relation = ">=" if drift.drifted else "<"
    return (
        f"dataset drift: {verdict} ({drift.drifted_columns}/{tested} columns drifted = "
        f"{drift.share:.3g} {relation} {drift.drift_share:g})"
    )
