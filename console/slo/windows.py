"""Alert windows as data: Sloth's `AlertWindows` documents (page/ticket × quick/slow, each a
share of the error budget and a short and a long window), the ones oncall ships, a workspace's
own, and which one an SLO uses.

An SLO names a spec with `alert_windows: NAME`; without one it gets the shipped spec for its
period (30d → google-30d, 28d → google-28d, as Sloth's defaults).  A period no shipped spec is
for keeps Google's budget shares over the SLO's own period (what oncall always did; Sloth
refuses such a period): a 7d SLO pages at 3.36× over 1h unless it names `sloth-7d`.
"""

from __future__ import annotations

import difflib
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import timedelta
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Annotated, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, ValidationError, field_validator

from console.config.durations import format_duration, parse_duration
from console.config.problems import validation_problems
from console.config.yamlmarks import MarkedDict, Problem, load_marked_all

Duration = Annotated[timedelta, BeforeValidator(parse_duration)]
NAME_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.:-]*$"
# Sloth's defaults by SLO period (internal/alert/windows/ in Sloth).
DEFAULTS = {timedelta(days=30): "google-30d", timedelta(days=28): "google-28d"}
SCALED_FROM = "google-30d"  # whose budget shares a period without a spec of its own gets


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class _Window(_Strict):
    errorBudgetPercent: float = Field(gt=0, le=100)
    shortWindow: Duration
    longWindow: Duration

    @field_validator("shortWindow", "longWindow")
    @classmethod
    def _positive(cls, value: timedelta) -> timedelta:
        if value <= timedelta(0):
            raise ValueError("a window is a positive duration, e.g. 5m or 1h")
        return value


class _QuickSlow(_Strict):
    quick: _Window
    slow: _Window


class _Spec(_Strict):
    sloPeriod: Duration
    page: _QuickSlow
    ticket: _QuickSlow


class _Metadata(_Strict):
    name: str = Field(pattern=NAME_PATTERN)


class _Document(_Strict):
    """One `AlertWindows` document as Sloth reads it, plus an optional `metadata.name`."""

    apiVersion: Literal["sloth.slok.dev/v1"]
    kind: Literal["AlertWindows"]
    metadata: _Metadata | None = None
    spec: _Spec


@dataclass(frozen=True)
class AlertWindow:
    """One multiwindow condition of a spec: its severity, speed, budget share and windows."""

    severity: str  # page | ticket
    speed: str  # quick | slow
    budget_percent: float
    short_window: timedelta
    long_window: timedelta


@dataclass(frozen=True)
class WindowSpec:
    """A named set of four alert windows for one SLO period, and where it was written."""

    name: str
    period: timedelta
    windows: tuple[AlertWindow, ...]  # page quick, page slow, ticket quick, ticket slow
    source: str
    scaled: bool = False  # another period's budget shares over this period (see the module)

    def factor(self, window: AlertWindow) -> float:
        """The burn that spends the window's budget share in its long window."""
        if self.scaled:  # oncall's own formula, for periods Sloth has no windows for
            return burn_factor(self.period, window.long_window, window.budget_percent / 100)
        # Sloth's getBurnRateFactor (internal/alert/window.go), operation for operation.
        hours_required = window.budget_percent * (self.period.total_seconds() / 3600) / 100
        return hours_required / (window.long_window.total_seconds() / 3600)

    @property
    def longest(self) -> timedelta:
        return max(w.long_window for w in self.windows)

    def label(self) -> str:
        """How the console names it: `sloth-7d`, or `google-30d scaled to 7d`."""
        return f"{self.name} scaled to {format_duration(self.period)}" if self.scaled else self.name


def burn_factor(period: timedelta, long_window: timedelta, budget_share: float) -> float:
    """The burn that spends `budget_share` of a `period`'s budget in `long_window` (9 decimals)."""
    return round(budget_share * period.total_seconds() / long_window.total_seconds(), 9)


class WindowFileError(Exception):
    """An alert-windows file that did not load; `problems` names every place."""

    def __init__(self, problems: list[Problem]) -> None:
        self.problems = problems
        super().__init__("\n".join(str(p) for p in problems))


def _spec(name: str, document: _Document, source: str) -> WindowSpec:
    spec = document.spec
    windows = tuple(
        AlertWindow(severity, speed, w.errorBudgetPercent, w.shortWindow, w.longWindow)
        for severity, pair in (("page", spec.page), ("ticket", spec.ticket))
        for speed, w in (("quick", pair.quick), ("slow", pair.slow))
    )
    return WindowSpec(name, spec.sloPeriod, windows, source)


def load_window_file(path: str | Path, text: str | None = None) -> list[WindowSpec]:
    """Every `AlertWindows` document of one file (`---`-separated), or WindowFileError.

    A document is named by its `metadata.name`; a file of one document may leave it out
    and is named by its stem.  A shipped spec's name is taken."""
    specs = _read_file(path, text)
    problems = _twice(specs, set(shipped_windows()))
    if problems:
        raise WindowFileError(problems)
    return specs


def _read_file(path: str | Path, text: str | None) -> list[WindowSpec]:
    try:
        documents = load_marked_all(path, text=text)
    except Problem as problem:
        raise WindowFileError([problem]) from None
    problems: list[Problem] = []
    specs: list[WindowSpec] = []
    for data in documents:
        if not isinstance(data, MarkedDict):
            line = getattr(data, "line", None) or 1
            problems.append(
                Problem(path, line, "an AlertWindows document is a mapping (apiVersion, kind, spec)")
            )
            continue
        try:
            document = _Document.model_validate(data)
        except ValidationError as exc:
            problems += _one_per_typo(validation_problems(exc, data, path, _Document))
            continue
        if document.metadata is not None:
            name = document.metadata.name
        elif len(documents) == 1:
            name = Path(path).stem
        else:
            message = f"give each AlertWindows document a metadata.name (this file has {len(documents)})"
            problems.append(Problem(data.file or path, data.line or 1, message))
            continue
        specs.append(_spec(name, document, f"{data.file or path}:{data.line or 1}"))
    problems += _twice(specs, set())
    if problems:
        raise WindowFileError(problems)
    return specs


def _one_per_typo(problems: list[Problem]) -> list[Problem]:
    """A misspelt key once (`unknown key; did you mean 'X'?`), not also as X missing."""
    meant = {
        (p.file, p.key.rpartition(".")[0], p.message.split("'")[1])
        for p in problems
        if p.key and "did you mean" in p.message
    }
    return [
        p
        for p in problems
        if not (p.key and "missing" in p.message and (p.file, *p.key.rpartition(".")[::2]) in meant)
    ]


def _twice(specs: list[WindowSpec], shipped: set[str]) -> list[Problem]:
    """A name given twice in one file, or one a shipped spec has."""
    seen: set[str] = set()
    problems = []
    for spec in specs:
        if spec.name in seen or spec.name in shipped:
            file, _, line = spec.source.rpartition(":")
            what = "a shipped spec" if spec.name in shipped else "another document of this file"
            problems.append(
                Problem(file, int(line), f"alert windows {spec.name!r} are also {what}; rename one")
            )
        seen.add(spec.name)
    return problems


def load_window_files(paths: list[Path]) -> dict[str, WindowSpec]:
    """A workspace's specs by name, from several files; WindowFileError with every problem."""
    found: dict[str, WindowSpec] = {}
    problems: list[Problem] = []
    for path in paths:
        try:
            specs = load_window_file(path)
        except WindowFileError as exc:
            problems += exc.problems
            continue
        for spec in specs:
            if spec.name in found:
                where = found[spec.name].source
                file, _, line = spec.source.rpartition(":")
                problems.append(Problem(file, int(line), f"alert windows {spec.name!r} are also in {where}"))
            found[spec.name] = spec
    if problems:
        raise WindowFileError(problems)
    return found


@cache
def shipped_windows() -> dict[str, WindowSpec]:
    """The specs oncall ships, by name (their files name their source)."""
    specs: dict[str, WindowSpec] = {}
    for entry in sorted(resources.files("console.slo.shipped_windows").iterdir(), key=lambda e: e.name):
        if entry.name.endswith(".yaml"):
            (spec,) = _read_file(Path(entry.name), entry.read_text(encoding="utf-8"))
            specs[spec.name] = WindowSpec(spec.name, spec.period, spec.windows, f"shipped {entry.name}")
    return specs


def resolve_windows(
    name: str | None, period: timedelta, workspace: Mapping[str, WindowSpec] | None = None
) -> WindowSpec:
    """The spec an SLO of `period` uses: the one it names, else its period's default.

    ValueError (a message for the engineer) for an unknown name or a spec of another period."""
    known = {**shipped_windows(), **(workspace or {})}
    if name is None:
        default = DEFAULTS.get(period)
        if default is not None:
            return known[default]
        base = known[SCALED_FROM]
        return WindowSpec(base.name, period, base.windows, base.source, scaled=True)
    spec = known.get(name)
    if spec is None:
        close = difflib.get_close_matches(name, list(known), n=1, cutoff=0.6)
        hint = f"did you mean {close[0]!r}?" if close else f"known: {', '.join(sorted(known))}"
        raise ValueError(f"unknown alert windows {name!r}; {hint}")
    if spec.period != period:
        raise ValueError(
            f"alert windows {name!r} are for {format_duration(spec.period)} SLOs ({spec.source}); "
            f"this SLO's window is {format_duration(period)}"
        )
    return spec
