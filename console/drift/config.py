"""Drift windows a workspace declares (per model, a reference and a rolling current window) and
the `drift` source's options that hold them."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Annotated, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, field_validator, model_validator

from collectors.base import CollectorOptions
from console.config.durations import parse_duration

Duration = Annotated[timedelta, BeforeValidator(parse_duration)]
KIND_NAMES = {"num": "num", "numeric": "num", "numerical": "num", "cat": "cat", "categorical": "cat"}


def _kind(value: object) -> object:
    if isinstance(value, str) and value.lower() in KIND_NAMES:
        return KIND_NAMES[value.lower()]
    return value


ColumnKind = Annotated[Literal["num", "cat"], BeforeValidator(_kind)]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ReferenceConfig(_Strict):
    """The reference: a file, a fixed window [start, end), or a window `span` long ending `ago` before now."""

    file: str | None = Field(default=None, min_length=1)
    start: datetime | None = None
    end: datetime | None = None
    span: Duration | None = None
    ago: Duration | None = None

    @model_validator(mode="after")
    def _one_form(self) -> ReferenceConfig:
        has_file, fixed, relative = self._forms()
        if sum([has_file, fixed, relative]) != 1:
            raise ValueError("give exactly one of: file, start + end, or span + ago")
        if fixed and not self._fixed_ok():
            raise ValueError("a fixed reference needs start < end")
        if relative and not self._relative_ok():
            raise ValueError("a relative reference needs span > 0 and ago (e.g. span: 6h, ago: 1d)")
        self._to_naive_utc()
        return self

    def _forms(self) -> tuple[bool, bool, bool]:
        """Which forms the given keys belong to: a file, a fixed window, a relative window."""
        fixed = self.start is not None or self.end is not None
        return self.file is not None, fixed, self.span is not None or self.ago is not None

    def _fixed_ok(self) -> bool:
        return self.start is not None and self.end is not None and self.start < self.end

    def _relative_ok(self) -> bool:
        return self.span is not None and self.ago is not None and self.span > timedelta(0)

    def _to_naive_utc(self) -> None:
        """The store keeps naive UTC: convert an aware start or end."""
        for name in ("start", "end"):
            value = getattr(self, name)
            if value is not None and value.tzinfo is not None:
                offset = value.utcoffset() or timedelta(0)
                object.__setattr__(self, name, (value - offset).replace(tzinfo=None))

    def bounds(self, now: datetime) -> tuple[datetime, datetime] | None:
        """[start, end) of a window reference at `now`; None for a file."""
        if self.file is not None:
            return None
        if self.start is not None and self.end is not None:
            return self.start, self.end
        assert self.span is not None and self.ago is not None
        end = now - self.ago
        return end - self.span, end

    def describe(self) -> str:
        if self.file is not None:
            return f"file {self.file}"
        if self.start is not None:
            return f"{self.start:%Y-%m-%d %H:%M} .. {self.end:%Y-%m-%d %H:%M}"
        return f"{_short(self.span)} ending {_short(self.ago)} ago"


def _short(value: timedelta | None) -> str:
    seconds = int((value or timedelta(0)).total_seconds())
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds and seconds % size == 0:
            return f"{seconds // size}{unit}"
    return f"{seconds}s"


class DriftWindow(_Strict):
    """One model's drift check: reference vs the last `current`, per-column overrides, dataset share."""

    model: str = Field(min_length=1)
    reference: ReferenceConfig
    current: Duration = timedelta(hours=1)
    columns: list[str] | None = None  # default: every feature, and the prediction
    column_types: dict[str, ColumnKind] = {}
    methods: dict[str, str] = {}
    thresholds: dict[str, float] = {}
    drift_share: float = Field(default=0.5, gt=0, le=1)
    min_rows: int = Field(default=1, ge=1)

    @model_validator(mode="after")
    def _known_methods(self) -> DriftWindow:
        from console.drift.catalogue import DriftError, resolve_test

        for column, method in self.methods.items():
            try:
                resolve_test(method)
            except DriftError as exc:
                raise ValueError(f"methods.{column}: {exc}") from None
        if self.current <= timedelta(0):
            raise ValueError("current must be a positive duration, e.g. 1h")
        return self

    def current_bounds(self, now: datetime) -> tuple[datetime, datetime]:
        """The rolling current window (now - current, now]."""
        return now - self.current, now


class DriftOptions(CollectorOptions):
    windows: list[DriftWindow] = Field(min_length=1, description="one drift window per model")
    step: str = Field(default="1m", description="evaluate at most once per this much time")

    @field_validator("step")
    @classmethod
    def _step(cls, value: str) -> str:
        if parse_duration(value) <= timedelta(0):
            raise ValueError("step must be a positive duration, e.g. 1m")
        return value

    @field_validator("windows")
    @classmethod
    def _unique(cls, value: list[DriftWindow]) -> list[DriftWindow]:
        seen: set[str] = set()
        for window in value:
            if window.model in seen:
                raise ValueError(f"two windows for model {window.model!r}")
            seen.add(window.model)
        return value
