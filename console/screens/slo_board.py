"""The Overview's SLO board: burns beside their thresholds, state from the alert engine."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from console.slo.status import SLOStatus
    from console.store import Store

FIVE_MINUTES, HOUR, SIX_HOURS = timedelta(minutes=5), timedelta(hours=1), timedelta(hours=6)


@dataclass
class SLORow:
    name: str
    service: str
    objective: float
    sli: float | None
    budget_remaining: float | None
    burn_1h: float | None
    burn_6h: float | None
    time_to_exhaustion: timedelta | None
    state: str
    group: dict[str, str] = field(default_factory=dict)
    burn_5m: float | None = None
    # The page factor of the 1h/5m pair and of the 6h/30m pair (None: that pair is disabled).
    page_1h: float | None = None
    page_6h: float | None = None
    # How much of the SLO window the data covers, when it covers only part: (covered, window).
    coverage: tuple[timedelta, timedelta] | None = None


def coverage(status: SLOStatus) -> tuple[timedelta, timedelta] | None:
    """(covered, window) when the group's data starts inside its window; None when it covers it."""
    cover = status.coverage
    if cover is None or not cover.partial:
        return None
    return cover.covered, cover.window


def slo_alert_states(store: Store) -> list[tuple[dict[str, str], str]]:
    """The generated SLO burn alerts pending or firing: (labels, state)."""
    rows = store.shared.query(
        "SELECT labels, state FROM alerts WHERE source = 'slo' AND state IN ('pending', 'firing')"
    )[1]
    return [(json.loads(labels), state) for labels, state in rows]


def board_state(status: SLOStatus, alerts: list[tuple[dict[str, str], str]]) -> str:
    """page/ticket only while that alert fires; pending while its condition holds and it doesn't yet."""
    if status.period.status in ("no data", "no traffic"):
        return status.period.status
    mine = [
        (labels, state)
        for labels, state in alerts
        if labels.get("slo") == status.slo.name and all(labels.get(k) == x for k, x in status.group.items())
    ]
    for severity in ("page", "ticket"):
        if any(state == "firing" and labels.get("severity") == severity for labels, state in mine):
            return severity
    held = any(h for _, h in status.conditions) or any(s == "pending" for _, s in mine)
    if held:
        return "pending"
    remaining = status.budget_remaining
    if remaining is not None and remaining <= 0:
        return "exhausted"
    return "ok" if status.period.status == "ok" else status.period.status


def exhaustion(status: SLOStatus) -> timedelta | None:
    """At the 1h burn, time to spend the budget; None (not at risk) while the 5m burn is within budget."""
    short = status.windows[FIVE_MINUTES].burn
    if short is not None and short <= 1 and (status.budget_remaining or 0) > 0:
        return None
    return status.time_to_exhaustion


def _page_factor(status: SLOStatus, long_window: timedelta) -> float | None:
    factors = [
        c.factor for c, _ in status.conditions if c.severity == "page" and c.long_window == long_window
    ]
    return factors[0] if factors else None


def slo_board(store: Store, slos: list[Any], now: datetime) -> list[SLORow]:
    """One row per SLO group at `now`: SLI, budget left, burn 5m/1h/6h, time to exhaustion."""
    if not slos:
        return []
    from console.slo.status import slo_status

    alerts = slo_alert_states(store)
    return [
        SLORow(
            name=status.slo.name,
            service=status.slo.service,
            objective=status.slo.objective,
            sli=status.sli,
            budget_remaining=status.budget_remaining,
            burn_1h=status.windows[HOUR].burn,
            burn_6h=status.windows[SIX_HOURS].burn,
            time_to_exhaustion=exhaustion(status),
            state=board_state(status, alerts),
            group=dict(status.group),
            burn_5m=status.windows[FIVE_MINUTES].burn,
            page_1h=_page_factor(status, HOUR),
            page_6h=_page_factor(status, SIX_HOURS),
            coverage=coverage(status),
        )
        for status in slo_status(store, slos, now)
    ]
