"""How the rule engine reads a window of samples: Prometheus 2.x or 3.x edges.

`promql: {windows: closed}` in oncall.yaml (the default) is Prometheus 2.x: a range `[5m]`
and the lookback of an instant selector at `t` hold the samples in `[t - 5m, t]`, so a
sample exactly 5m old is in.  `windows: left-open` is Prometheus 3.x: `(t - 5m, t]`, that
sample is out.  The rule helpers and the PromQL compiler read the same `Windows` value.
"""

from __future__ import annotations

from enum import StrEnum

from pydantic import BaseModel, ConfigDict


class Windows(StrEnum):
    """Which samples a window `w` ending at `t` holds."""

    CLOSED = "closed"  # Prometheus 2.x: [t - w, t]
    LEFT_OPEN = "left-open"  # Prometheus 3.x: (t - w, t]

    @property
    def after_start(self) -> str:
        """The SQL comparison a sample's `ts` passes against the window's start (`ts {op} start`)."""
        return ">=" if self is Windows.CLOSED else ">"


DEFAULT_WINDOWS = Windows.CLOSED


class PromqlConfig(BaseModel):
    """The `promql:` block of oncall.yaml."""

    model_config = ConfigDict(extra="forbid")

    windows: Windows = DEFAULT_WINDOWS
