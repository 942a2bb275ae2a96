"""Sloth's multiwindow multi-burn-rate alert conditions of an SLO."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from console.config.durations import format_duration
from console.slo.model import SLO, WINDOWS, SeverityAlerting
from console.slo.windows import burn_factor as burn_factor  # where it was before windows.py


@dataclass(frozen=True)
class AlertCondition:
    """A multiwindow burn-rate condition: error ratio over both windows above factor × budget."""

    slo: str
    name: str
    severity: str
    long_window: timedelta
    short_window: timedelta
    factor: float
    threshold: float
    labels: dict[str, str] = field(default_factory=dict)
    annotations: dict[str, str] = field(default_factory=dict)
    speed: str = ""  # quick | slow: which of its severity's two windows (Sloth's page-quick …)
    budget_percent: float = 0.0  # the share of the error budget the condition stands for
    windows: str = ""  # the alert-windows spec it comes from, e.g. `sloth-7d`

    def as_dict(self) -> dict[str, Any]:
        return {
            "slo": self.slo,
            "name": self.name,
            "severity": self.severity,
            "long_window": format_duration(self.long_window),
            "short_window": format_duration(self.short_window),
            "factor": self.factor,
            "threshold": self.threshold,
            "alert_windows": self.windows,
            "speed": self.speed,
            "budget_percent": self.budget_percent,
            "labels": self.labels,
            "annotations": self.annotations,
        }


def slo_windows(slo: SLO) -> list[timedelta]:
    """Every window the SLO's status is computed over: the console's own, and its conditions'."""
    if "windows" not in slo._memo:
        used = {w for c in slo_alert_conditions(slo) for w in (c.long_window, c.short_window)}
        slo._memo["windows"] = sorted({*WINDOWS, *used})
    return list(slo._memo["windows"])


def slo_alert_conditions(slo: SLO) -> list[AlertCondition]:
    """The SLO's enabled multiwindow multi-burn-rate conditions, page first."""
    if "conditions" not in slo._memo:
        slo._memo["conditions"] = _alert_conditions(slo)
    return list(slo._memo["conditions"])


def _alert_conditions(slo: SLO) -> list[AlertCondition]:
    conditions = []
    spec = slo.window_spec
    for window in spec.windows:
        severity, long_window, short_window = window.severity, window.long_window, window.short_window
        setting: SeverityAlerting = getattr(slo.alerting, severity)
        if not setting.enabled:
            continue
        factor = spec.factor(window)
        labels = {
            **slo.labels,
            **slo.alerting.labels,
            **setting.labels,
            "slo": slo.name,
            "severity": severity,
            "window": f"{format_duration(long_window)}/{format_duration(short_window)}",
        }
        if slo.service:
            labels.setdefault("service", slo.service)
        annotations = {
            "summary": f"{slo.name}: burning the error budget {factor:g}x too fast "
            f"over {format_duration(long_window)} and "
            f"{format_duration(short_window)}",
            **slo.alerting.annotations,
            **setting.annotations,
        }
        if slo.description:
            annotations.setdefault("description", slo.description)
        conditions.append(
            AlertCondition(
                slo.name,
                f"{slo.name}:{severity}:{format_duration(long_window)}",
                severity,
                long_window,
                short_window,
                factor,
                factor * slo.budget,
                labels,
                annotations,
                window.speed,
                window.budget_percent,
                spec.label(),
            )
        )
    return conditions
