"""Sloth's multiwindow multi-burn-rate alert conditions of an SLO."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from console.config.durations import format_duration
from console.slo.model import SLO, SeverityAlerting

# Sloth's google-30d alert windows: (severity, long, short, share of the budget spent).
ALERT_WINDOWS: tuple[tuple[str, timedelta, timedelta, float], ...] = (
    ("page", timedelta(hours=1), timedelta(minutes=5), 0.02),
    ("page", timedelta(hours=6), timedelta(minutes=30), 0.05),
    ("ticket", timedelta(days=1), timedelta(hours=2), 0.10),
    ("ticket", timedelta(days=3), timedelta(hours=6), 0.10),
)


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

    def as_dict(self) -> dict[str, Any]:
        return {
            "slo": self.slo,
            "name": self.name,
            "severity": self.severity,
            "long_window": format_duration(self.long_window),
            "short_window": format_duration(self.short_window),
            "factor": self.factor,
            "threshold": self.threshold,
            "labels": self.labels,
            "annotations": self.annotations,
        }


def burn_factor(period: timedelta, long_window: timedelta, budget_share: float) -> float:
    """Sloth's factor: the burn that spends `budget_share` of the budget in `long_window`."""
    return round(budget_share * period.total_seconds() / long_window.total_seconds(), 9)


def slo_alert_conditions(slo: SLO) -> list[AlertCondition]:
    """The SLO's enabled multiwindow multi-burn-rate conditions, page first."""
    if "conditions" not in slo._memo:
        slo._memo["conditions"] = _alert_conditions(slo)
    return list(slo._memo["conditions"])


def _alert_conditions(slo: SLO) -> list[AlertCondition]:
    conditions = []
    for severity, long_window, short_window, share in ALERT_WINDOWS:
        setting: SeverityAlerting = getattr(slo.alerting, severity)
        if not setting.enabled:
            continue
        factor = burn_factor(slo.window, long_window, share)
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
            )
        )
    return conditions
