"""What changed before an incident: the SLO burn around it, the changes before it, and ranked suspects."""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

BEFORE = timedelta(hours=3)            # burn chart: this long before the incident
STEP = timedelta(minutes=5)            # burn chart resolution
CHANGE_LOOKBACK = timedelta(days=2)    # changes this long before the onset are candidates
BURN_WINDOW = timedelta(minutes=5)     # the burn plotted: error ratio over 5m ÷ budget
ONSET_BURN = 1.0                       # the burn counts as started above this
CLOSENESS_HALF = timedelta(hours=1)    # a change this long before the onset scores 0.5 closeness
TIME_WEIGHT, MATCH_WEIGHT = 0.6, 0.4


@dataclass
class BurnSeries:
    """One SLO group's burn rate on a grid (None where there was no data)."""

    slo: str
    labels: dict[str, str]             # the SLO's labels, its service and its group
    times: list[datetime]
    burn: list[float | None]

    def peak(self) -> float:
        return max((b for b in self.burn if b is not None), default=0.0)

    def at(self, when: datetime) -> float | None:
        """The burn at the last grid point at or before `when`."""
        value = None
        for t, b in zip(self.times, self.burn):
            if t > when:
                break
            value = b
        return value


@dataclass
class Change:
    """One row of `changes`: an alias move, deploy, config or data change."""

    ts: datetime
    kind: str
    model: str | None
    version: str | None
    actor: str | None
    source: str | None
    detail: dict[str, Any] = field(default_factory=dict)

    def describe(self) -> str:
        what = f"{self.kind} {self.model or ''}".strip()
        frm = self.detail.get("from_version")
        if self.version:
            what += f" {'v' + str(frm) + ' → ' if frm else ''}v{self.version}"
        return what + (f" by {self.actor}" if self.actor else "")


@dataclass
class Suspect:
    """A change ranked by how likely it caused the burn, with the reasons in words."""

    change: Change
    score: float
    closeness: float
    match: float
    reasons: list[str]

    @property
    def explanation(self) -> str:
        return "; ".join(self.reasons)


@dataclass
class WhatChanged:
    """Everything the "what changed" panel shows for one incident."""

    start: datetime
    end: datetime
    incident_start: datetime
    burning: BurnSeries | None         # the SLO the incident is about (or the hottest one)
    series: list[BurnSeries]
    onset: datetime | None
    changes: list[Change]              # in the chart's span and the lookback before the onset
    suspects: list[Suspect]


def burn_series(store: Any, slos: list[Any], start: datetime, end: datetime,
                step: timedelta = STEP) -> list[BurnSeries]:
    """Each SLO group's short-window burn rate from start to end (a coarse backtest)."""
    if not slos:
        return []
    from console.slo import backtest, ms_to_datetime

    out = []
    for test in backtest(store, slos, start, end, step):
        ratio = test.error_ratio[BURN_WINDOW]
        budget = test.slo.budget
        burns = [None if math.isnan(r) else float(r) / budget for r in ratio]
        labels = {**test.slo.labels, **test.group, "slo": test.slo.name}
        if test.slo.service:
            labels.setdefault("service", test.slo.service)
        out.append(BurnSeries(test.slo.name, labels, [ms_to_datetime(t) for t in test.times], burns))
    return out


def burn_onset(series: BurnSeries, until: datetime, threshold: float = ONSET_BURN) -> datetime | None:
    """The start of the latest run of burn above `threshold` that is still on at `until`."""
    onset = None
    for t, b in zip(series.times, series.burn):
        if t > until:
            break
        if b is not None and b > threshold:
            onset = onset or t
        else:
            onset = None
    return onset


def changes_between(store: Any, start: datetime, end: datetime) -> list[Change]:
    rows = store.query("SELECT ts, kind, model, version, actor, source, detail FROM changes "
                       "WHERE ts BETWEEN ? AND ? ORDER BY ts", [start, end])[1]
    return [Change(*r[:6], json.loads(r[6]) if r[6] else {}) for r in rows]


def _ago(span: timedelta) -> str:
    minutes = int(abs(span.total_seconds()) // 60)
    if minutes < 60:
        return f"{minutes}m"
    hours, rest = divmod(minutes, 60)
    return f"{hours}h {rest:02d}m" if hours < 48 else f"{hours // 24}d {hours % 24}h"


def score_change(change: Change, onset: datetime, burning: BurnSeries | None,
                 step: timedelta = STEP, *, event: str = "the burn began") -> Suspect:
    """Closeness before the onset (1 at it, ½ an hour before, → 0) and model match, in words."""
    gap = onset - change.ts
    reasons = []
    if gap < -step:
        closeness = 0.0
        reasons.append(f"{_ago(gap)} after {event}, so it cannot have started it")
    else:
        closeness = 1.0 / (1.0 + max(gap, timedelta()) / CLOSENESS_HALF)
        when = f"as {event}" if gap <= step else f"{_ago(gap)} before {event}"
        reasons.append(f"{when} (closeness {closeness:.2f})")
    model = (burning.labels.get("model") if burning else None)
    service = (burning.labels.get("service") if burning else None)
    slo_name = burning.slo if burning else "the burning SLO"
    if change.model and model and change.model == model:
        match = 1.0
        reasons.append(f"changes {change.model}, the model {slo_name} measures (match 1.0)")
    elif change.model and service and change.model == service:
        match = 1.0
        reasons.append(f"changes {change.model}, the service {slo_name} measures (match 1.0)")
    elif not change.model or not (model or service):
        match = 0.5
        reasons.append("not tied to a model the SLO names (match 0.5)")
    else:
        match = 0.0
        reasons.append(f"changes {change.model}, not {model or service} (match 0.0)")
    score = TIME_WEIGHT * closeness + MATCH_WEIGHT * match
    return Suspect(change, round(score, 3), closeness, match, reasons)


def rank_suspects(changes: list[Change], onset: datetime, burning: BurnSeries | None,
                  step: timedelta = STEP, *, event: str = "the burn began") -> list[Suspect]:
    """Changes before the onset (one step of slack), best suspect first."""
    scored = [score_change(c, onset, burning, step, event=event) for c in changes
              if c.ts <= onset + step]
    return sorted(scored, key=lambda s: (-s.score, onset - s.change.ts))


def _incident_slo(incident: Any) -> str | None:
    alert = (incident.detail or {}).get("alert") or {}
    return (alert.get("labels") or {}).get("slo")


def what_changed(store: Any, slos: list[Any], incident: Any, now: datetime, *,
                 before: timedelta = BEFORE, step: timedelta = STEP,
                 lookback: timedelta = CHANGE_LOOKBACK) -> WhatChanged:
    """The burn from `before` the incident until it ended (or now), the changes, and the suspects."""
    created = incident.created_at
    end = min(now, incident.resolved_at or now)
    end = max(end, created)
    start = created - before
    series = burn_series(store, slos, start, end, step)
    wanted = _incident_slo(incident)
    burning = next((s for s in series if s.slo == wanted), None)
    if burning is None and series:
        burning = max(series, key=lambda s: (s.at(created) or 0.0))
    onset = burn_onset(burning, created) if burning else None
    anchor = onset or created
    changes = changes_between(store, min(start, anchor - lookback), end)
    event = "the burn began" if onset else "the incident was declared"
    suspects = rank_suspects([c for c in changes if c.ts <= created], anchor, burning, step,
                             event=event)
    return WhatChanged(start, end, created, burning, series, onset, changes, suspects)
