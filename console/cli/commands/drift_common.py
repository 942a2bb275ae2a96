"""What `oncall drift` on two files and `oncall drift MODEL` share: the verdict, the exit code, the
table and the JSON."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from console.cli.commands.drift_options import WHY_LEFT_OUT
from console.core.output import render
from console.core.terminal import escape

if TYPE_CHECKING:
    from console.cli.context import Context
    from console.drift.quality import QualityReport
    from console.drift.stats import ColumnDrift, DatasetDrift

EXIT_CLEAN, EXIT_DATASET_DRIFT, EXIT_USAGE, EXIT_COLUMN_DRIFT, EXIT_QUALITY = 0, 1, 2, 3, 4
EXIT_CODES_HELP = (
    "exit codes: 0 no drift and no quality problem; 1 dataset drift; 2 usage error; "
    "3 one or more columns drifted without dataset drift; 4 a data-quality problem (no data "
    "counts as one). When several hold, the first of 1, 4, 3 wins; the JSON's `outcome` "
    "says which of them hold."
)
_SYMBOLS = {"<=": "≤", "<": "<", ">=": "≥", ">": ">"}


def column_names(option: str) -> list[str]:
    """--columns A,B: the names, blanks ignored."""
    return [c.strip() for c in option.split(",") if c.strip()]


@dataclass(frozen=True)
class ScoreRule:
    """What a test's score is (`p_value` or `distance`) and when it drifts against the threshold."""

    score_kind: str
    comparison: str  # "<=", "<", ">=" or ">": drift when `score comparison threshold`

    @property
    def drifts_when(self) -> str:
        return f"score {self.comparison} threshold"

    def cell(self, threshold: float | None) -> str:
        return (
            f"{_SYMBOLS.get(self.comparison, self.comparison)} {threshold:g}" if threshold is not None else ""
        )


def score_rule(method: str | None) -> ScoreRule | None:
    """The rule of the test called `method`, read from the catalogue's direction ("p<=", ">=", …)."""
    from console.drift.catalogue import resolve_test

    if method is None:
        return None
    direction = resolve_test(method).drift_when
    if direction.startswith("p"):
        return ScoreRule("p_value", direction[1:])
    return ScoreRule("distance", direction)


def rules_help() -> str:
    """Which tests give p-values and which distances, and the comparison each drifts on, from the catalogue."""
    from console.drift.catalogue import TESTS

    groups: dict[tuple[str, str], list[str]] = {}
    for name in TESTS:
        rule = score_rule(name)
        assert rule is not None
        groups.setdefault((rule.score_kind, rule.comparison), []).append(name)
    parts = [
        f"{kind} {_SYMBOLS.get(comparison, comparison)} threshold ({', '.join(names)})"
        for (kind, comparison), names in sorted(
            groups.items(), key=lambda item: (item[0][0] != "p_value", item[0])
        )
    ]
    return "A column drifts when its score is " + "; ".join(parts) + "."


@dataclass(frozen=True)
class Outcome:
    """Which findings hold, and the one exit code they give (precedence: 1, then 4, then 3)."""

    dataset_drift: bool
    column_drift: bool
    quality_problem: bool
    no_data: bool

    @property
    def exit_code(self) -> int:
        if self.dataset_drift:
            return EXIT_DATASET_DRIFT
        if self.quality_problem or self.no_data:
            return EXIT_QUALITY
        return EXIT_COLUMN_DRIFT if self.column_drift else EXIT_CLEAN

    def as_dict(self) -> dict[str, Any]:
        return {
            "exit_code": self.exit_code,
            "dataset_drift": self.dataset_drift,
            "column_drift": self.column_drift,
            "quality_problem": self.quality_problem,
            "no_data": self.no_data,
        }


def outcome(drift: DatasetDrift, quality: QualityReport | None) -> Outcome:
    """No column with data on both sides is "no data", a quality problem even under --no-quality."""
    return Outcome(
        dataset_drift=bool(drift.drifted),
        column_drift=any(c.drifted for c in drift.columns),
        quality_problem=bool(quality and quality.problems),
        no_data=drift.share is None,
    )


def column_payload(column: ColumnDrift) -> dict[str, Any]:
    """A column's JSON: a non-finite score as the text "nan", "inf" or "-inf" (null is no data), and its rule."""
    payload = column.as_dict()
    score = column.score
    if score is not None and not math.isfinite(score):
        payload["score"] = repr(float(score))
    rule = score_rule(column.method)
    payload["score_kind"] = rule.score_kind if rule else None
    payload["drifts_when"] = rule.drifts_when if rule else None
    return payload


def labelled(
    payload: dict[str, Any],
    drift: DatasetDrift,
    left_out: dict[str, str],
    found: Outcome,
    notes: list[str] | None = None,
) -> None:
    """`payload` (a result's as_dict) with labelled columns, the left-out columns, notes and the outcome."""
    payload["columns"] = [column_payload(c) for c in drift.columns]
    payload["excluded"] = [{"column": c, "reason": WHY_LEFT_OUT[role]} for c, role in left_out.items()]
    payload["notes"] = list(notes or [])
    payload["outcome"] = found.as_dict()


def print_report(
    ctx: Context,
    drift: DatasetDrift,
    quality: QualityReport | None,
    left_out: dict[str, str],
    found: Outcome,
    notes: list[str] | None = None,
) -> None:
    """The per-column table, the left-out columns, notes, the dataset verdict, quality and the exit code."""
    ctx.out(render(HEADINGS, [table_row(c) for c in drift.columns], "table"))
    ctx.out("")
    for column, role in left_out.items():
        ctx.out(f"excluded: {escape(column)}: {WHY_LEFT_OUT[role]}")
    for note in notes or []:
        ctx.out(f"note: {escape(note)}")
    for tested in drift.columns:  # why a test could not score, or what it approximated
        if tested.note:
            ctx.out(f"note: {escape(tested.column)} ({escape(tested.method)}): {escape(tested.note)}")
    ctx.out(summary_line(drift))
    if quality is not None:
        ctx.out(
            f"quality: {quality.current_rows} current rows, {quality.reference_rows} reference rows; "
            + ("no problems" if not quality.problems else f"{len(quality.problems)} problem(s)")
        )
        for problem in quality.problems:
            ctx.out(f"  - {escape(problem)}")
    ctx.out(exit_line(found))


HEADINGS = ["column", "type", "test", "score", "score is", "drifts when", "verdict", "ref rows", "cur rows"]


def table_row(column: ColumnDrift) -> tuple[Any, ...]:
    rule = score_rule(column.method)
    return (
        column.column,
        column.kind,
        column.method or "",
        _score_text(column.score),
        rule.score_kind if rule else "",
        rule.cell(column.threshold) if rule else "",
        _verdict(column),
        column.reference_rows,
        column.current_rows,
    )


def _score_text(score: float | None) -> str:
    """The score as the table shows it: blank for no data, `nan` / `inf` as such (never "no data")."""
    if score is None:
        return ""
    return f"{score:.6g}" if math.isfinite(score) else repr(float(score))


def _verdict(column: ColumnDrift) -> str:
    if column.status != "ok":
        return column.status
    return "DRIFT" if column.drifted else "ok"


def summary_line(drift: DatasetDrift) -> str:
    tested = sum(1 for c in drift.columns if c.status == "ok")
    if drift.share is None:
        return "dataset drift: no data (no column had data on both sides)"
    verdict = "yes" if drift.drifted else "no"
    relation = ">=" if drift.drifted else "<"
    return (
        f"dataset drift: {verdict} ({drift.drifted_columns}/{tested} columns drifted = "
        f"{drift.share:.3g} {relation} {drift.drift_share:g})"
    )


def exit_line(found: Outcome) -> str:
    words = {
        EXIT_CLEAN: "no drift, no quality problem",
        EXIT_DATASET_DRIFT: "dataset drift",
        EXIT_COLUMN_DRIFT: "column drift without dataset drift",
        EXIT_QUALITY: "no data" if found.no_data and not found.quality_problem else "quality problem",
    }
    also = [
        name
        for name, holds, code in (
            ("quality problem", found.quality_problem, EXIT_QUALITY),
            ("column drift", found.column_drift and not found.dataset_drift, EXIT_COLUMN_DRIFT),
        )
        if holds and code != found.exit_code
    ]
    return f"exit {found.exit_code}: {words[found.exit_code]}" + (
        f" (also: {', '.join(also)})" if also else ""
    )
