"""SLOs: the model, and SLO files loaded into it with every problem at file:line."""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from datetime import timedelta
from pathlib import Path
from typing import Annotated, Any

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    PrivateAttr,
    ValidationError,
    model_validator,
)

from console.config.durations import format_duration, parse_duration
from console.config.problems import validation_problems
from console.config.yamlmarks import MarkedDict, Problem, load_marked, locate
from console.slo.windows import WindowSpec, resolve_windows
from console.store.selectors import parse_selector

Duration = Annotated[timedelta, BeforeValidator(parse_duration)]

# The windows every SLO is computed over, shortest first.
WINDOWS: tuple[timedelta, ...] = tuple(parse_duration(w) for w in ("5m", "30m", "1h", "2h", "6h", "1d", "3d"))
_NAME_RE = r"^[A-Za-z0-9][A-Za-z0-9_.:-]*$"


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


def _by_or_without(by: list[str], without: list[str] | None) -> None:
    if by and without is not None:
        raise ValueError("give by or without, not both")


class RatioSLI(_Strict):
    """Good (or bad) events over total events, each a series selector."""

    good: str | None = None
    bad: str | None = None
    total: str
    by: list[str] = Field(default_factory=list)
    without: list[str] | None = None  # PromQL's `sum without (...)`: group by every other label

    @model_validator(mode="after")
    def _one_of(self) -> RatioSLI:
        if (self.good is None) == (self.bad is None):
            raise ValueError("give exactly one of good or bad")
        _by_or_without(self.by, self.without)
        for text in (self.good, self.bad, self.total):
            if text is not None:
                parse_selector(text)
        return self


class LatencySLI(_Strict):
    """Share of requests at or under `threshold`, from a histogram's `_bucket` series."""

    buckets: str
    threshold: float = Field(gt=0)
    by: list[str] = Field(default_factory=list)
    without: list[str] | None = None  # as RatioSLI's; `le` never makes a group

    @model_validator(mode="after")
    def _valid(self) -> LatencySLI:
        parse_selector(self.buckets)
        _by_or_without(self.by, self.without)
        if not math.isfinite(self.threshold):
            raise ValueError("threshold must be a finite bucket bound (an `le` value)")
        return self


class SLISpec(_Strict):
    ratio: RatioSLI | None = None
    latency: LatencySLI | None = None

    @model_validator(mode="after")
    def _one_of(self) -> SLISpec:
        if (self.ratio is None) == (self.latency is None):
            raise ValueError("give exactly one of ratio or latency")
        return self


class SeverityAlerting(_Strict):
    enabled: bool = True
    labels: dict[str, str] = Field(default_factory=dict)
    annotations: dict[str, str] = Field(default_factory=dict)


def _severity(value: Any) -> Any:
    return {"enabled": value} if isinstance(value, bool) else value


class Alerting(_Strict):
    name: str = ""  # the alerts' `alertname` (Sloth's alerting.name); empty: SLOErrorBudgetBurn
    page: Annotated[SeverityAlerting, BeforeValidator(_severity)] = Field(default_factory=SeverityAlerting)
    ticket: Annotated[SeverityAlerting, BeforeValidator(_severity)] = Field(default_factory=SeverityAlerting)
    labels: dict[str, str] = Field(default_factory=dict)
    annotations: dict[str, str] = Field(default_factory=dict)


class SLO(_Strict):
    """One service level objective."""

    name: str = Field(pattern=_NAME_RE)
    service: str = ""
    labels: dict[str, str] = Field(default_factory=dict)
    objective: float = Field(gt=0, lt=100, description="percent, e.g. 99.9")
    window: Duration = timedelta(days=30)
    description: str = ""
    sli: SLISpec
    min_events: float | None = Field(default=None, ge=0)
    alerting: Alerting = Field(default_factory=Alerting)  # a fresh one each, not a deep copy
    # The alert-windows spec (console/slo/windows.py); None: the default for the window.
    alert_windows: str | None = Field(default=None, pattern=_NAME_RE)
    _window_spec: WindowSpec | None = PrivateAttr(default=None)
    # Worked out once per SLO (the console asks every refresh): its conditions, its selectors.
    _memo_store: dict[str, Any] = PrivateAttr(default_factory=dict)

    @property
    def _memo(self) -> dict[str, Any]:
        """This SLO's own memo: a copy (`model_copy`, which shares private values) starts empty."""
        private = self.__pydantic_private__  # read directly: pydantic's __getattr__ is slow here
        assert private is not None
        store: dict[str, Any] = private["_memo_store"]
        if store.get("owner") != id(self):
            store = private["_memo_store"] = {"owner": id(self)}
        return store

    @property
    def window_spec(self) -> WindowSpec:
        """The alert windows this SLO uses (resolved against the workspace's when loaded)."""
        if self._window_spec is None or self._window_spec.period != self.window:  # or a copy's new window
            self._window_spec = resolve_windows(self.alert_windows, self.window)
        return self._window_spec

    @property
    def budget(self) -> float:
        """The error budget as a ratio: 1 − objective."""
        return 1 - self.objective / 100

    @property
    def by(self) -> list[str]:
        spec = self.sli.ratio or self.sli.latency
        return list(spec.by) if spec else []

    def group_of(self, labels: dict[str, str]) -> dict[str, str]:
        """The group a series with these labels counts in: its `by` labels, or all but `without`'s."""
        spec = self.sli.ratio or self.sli.latency
        if spec is None or spec.without is None:
            return {k: labels.get(k, "") for k in sorted(set(self.by))}
        dropped = {*spec.without, "__name__", *(["le"] if self.sli.latency else [])}
        return {k: labels[k] for k in sorted(labels) if k not in dropped}


class SLOFile(_Strict):
    slos: list[SLO]


class SLOFileError(Exception):
    """SLO files that did not load; `problems` names every place."""

    def __init__(self, problems: list[Problem]) -> None:
        self.problems = problems
        super().__init__("\n".join(str(p) for p in problems))


def load_slo_file(
    path: str | Path, text: str | None = None, windows: Mapping[str, WindowSpec] | None = None
) -> list[SLO]:
    """Load one SLO file (or `text` as that file); raise SLOFileError with file:line for each
    problem.  `windows`: the workspace's alert-windows specs, by name, besides the shipped ones."""
    try:
        data = load_marked(path, text=text)
    except Problem as problem:
        raise SLOFileError([problem]) from None
    if not isinstance(data, MarkedDict) or "slos" not in data:
        raise SLOFileError(
            [Problem(path, getattr(data, "line", 1), "an SLO file is a mapping with a `slos:` list")]
        )
    try:
        slos = SLOFile.model_validate(data).slos
    except ValidationError as exc:
        raise SLOFileError(validation_problems(exc, data, path, SLOFile)) from None
    problems = _name_and_window_problems(slos, data, path, windows)
    if problems:
        raise SLOFileError(problems)
    return slos


def _name_and_window_problems(
    slos: list[SLO], data: MarkedDict, path: str | Path, windows: Mapping[str, WindowSpec] | None
) -> list[Problem]:
    """What the model cannot see: two SLOs of one name, alert windows that are not known or
    not for the SLO's window, a window shorter than the alerts'."""
    seen: dict[str, int] = {}
    problems = []
    for index, slo in enumerate(slos):
        file, line, _ = locate(data, ("slos", index, "name"), path)
        if slo.name in seen:
            problems.append(Problem(file, line, f"two SLOs are named {slo.name!r}", "name"))
        seen[slo.name] = index
        try:
            slo._window_spec = resolve_windows(slo.alert_windows, slo.window, windows)
        except ValueError as exc:
            file, line, _ = locate(data, ("slos", index, "alert_windows"), path)
            problems.append(Problem(file, line, str(exc), "alert_windows"))
            continue
        longest = max(slo.window_spec.longest, max(WINDOWS))
        if slo.window < longest:
            message = (
                f"window {format_duration(slo.window)} is shorter than the longest alert window "
                f"({format_duration(longest)})"
            )
            problems.append(Problem(file, line, message, "window"))
    return problems


def check_slo_file(path: Any, windows: Mapping[str, WindowSpec] | None = None) -> list[Problem]:
    """Every problem in one SLO file (for `oncall check`)."""
    return _try_load(path, windows)[1]


def _try_load(
    path: str | Path, windows: Mapping[str, WindowSpec] | None = None
) -> tuple[list[SLO], list[Problem]]:
    """One file's SLOs, or its problems."""
    try:
        return load_slo_file(path, windows=windows), []
    except SLOFileError as exc:
        return [], exc.problems
    except Problem as problem:
        return [], [problem]


def load_slos(paths: Iterable[str | Path], windows: Mapping[str, WindowSpec] | None = None) -> list[SLO]:
    """Every SLO in the given files; names must be unique across them."""
    slos: list[SLO] = []
    problems: list[Problem] = []
    for path in paths:
        loaded, found = _try_load(path, windows)
        slos += loaded
        problems += found
    names = [s.name for s in slos]
    for name in sorted({n for n in names if names.count(n) > 1}):
        problems.append(Problem(None, None, f"SLO {name!r} is defined in more than one file"))
    if problems:
        raise SLOFileError(problems)
    return slos
