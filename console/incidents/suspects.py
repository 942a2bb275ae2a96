"""What changed before an incident: the SLO burn around it, the changes and data drift before it, and ranked suspects."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from console.incidents.changes import CHANGE_LOOKBACK, changes_between
from console.incidents.changes import Change as Change  # callers read the rows here
from console.incidents.shifts import DataShift as DataShift
from console.incidents.shifts import drift_shifts, window_thresholds

if TYPE_CHECKING:
    from console.incidents.records import Incident
    from console.store import Store

BEFORE = timedelta(hours=3)  # burn chart: this long before the incident
STEP = timedelta(minutes=5)  # burn chart resolution
BURN_WINDOW = timedelta(minutes=5)  # the burn plotted: error ratio over 5m ÷ budget
LONG_BURN_WINDOW = timedelta(hours=1)  # and over 1h, the fast page condition's long window
ONSET_BURN = 1.0  # the burn counts as started above this
CLOSENESS_HALF = timedelta(hours=1)  # a change this long before the onset scores 0.5 closeness
TIME_WEIGHT, MATCH_WEIGHT = 0.6, 0.4
LATE_DRIFT = 0.5  # closeness factor of drift first detected after the burn began


@dataclass
class BurnSeries:
    """One SLO group's burn rate on a grid (None where there was no data)."""

    slo: str
    labels: dict[str, str]  # the SLO's labels, its service and its group
    times: list[datetime]
    burn: list[float | None]
    burn_1h: list[float | None] = field(default_factory=list)  # over LONG_BURN_WINDOW, when computed

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
class Suspect:
    """A change ranked by how likely it caused the burn, with the reasons in words."""

    change: Change
    score: float
    closeness: float
    match: float
    reasons: list[str]
    shift: DataShift | None = None  # set when the suspect is a data shift, not a recorded change

    @property
    def explanation(self) -> str:
        return "; ".join(self.reasons)


@dataclass
class WhatChanged:
    """Everything the "what changed" panel shows for one incident."""

    start: datetime
    end: datetime
    incident_start: datetime
    burning: BurnSeries | None  # the SLO the incident is about (or the hottest one)
    series: list[BurnSeries]
    onset: datetime | None
    changes: list[Change]  # in the chart's span and the lookback before the onset
    suspects: list[Suspect]
    model: str | None = None  # the incident's model: its alert's `model` label, or the SLO's
    drift: list[DataShift] = field(default_factory=list)  # drifted columns of that model, oldest first


def burn_series(
    store: Store, slos: list[Any], start: datetime, end: datetime, step: timedelta = STEP
) -> list[BurnSeries]:
    """Each SLO group's short-window burn rate from start to end (a coarse backtest)."""
    if not slos:
        return []
    from console.slo.backtest import backtest

    return [_burn_of(test) for test in backtest(store, slos, start, end, step)]


def _burn_of(test: Any) -> BurnSeries:
    """A backtest's short-window error ratio as burn (÷ budget), labelled with its SLO, service and group."""
    from console.slo.status import ms_to_datetime

    budget = test.slo.budget

    def burns(window: timedelta) -> list[float | None]:
        ratios = test.error_ratio.get(window, [])
        return [None if math.isnan(r) else float(r) / budget for r in ratios]

    labels = {**test.slo.labels, **test.group, "slo": test.slo.name}
    if test.slo.service:
        labels.setdefault("service", test.slo.service)
    times = [ms_to_datetime(t) for t in test.times]
    return BurnSeries(test.slo.name, labels, times, burns(BURN_WINDOW), burns(LONG_BURN_WINDOW))


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


def _ago(span: timedelta) -> str:
    minutes = int(abs(span.total_seconds()) // 60)
    if minutes < 60:
        return f"{minutes}m"
    hours, rest = divmod(minutes, 60)
    return f"{hours}h {rest:02d}m" if hours < 48 else f"{hours // 24}d {hours % 24}h"


def score_change(
    change: Change,
    onset: datetime,
    burning: BurnSeries | None,
    step: timedelta = STEP,
    *,
    event: str = "the burn began",
) -> Suspect:
    """Closeness before the onset (1 at it, ½ an hour before, → 0) and model match, in words."""
    closeness, when = _closeness(onset - change.ts, step, event)
    match, why = _match(change, burning)
    score = TIME_WEIGHT * closeness + MATCH_WEIGHT * match
    return Suspect(change, round(score, 3), closeness, match, [when, why])


def _closeness(gap: timedelta, step: timedelta, event: str) -> tuple[float, str]:
    """How close before `event` a change came (0 if after it, with one step of slack), in words."""
    if gap < -step:
        return 0.0, f"{_ago(gap)} after {event}, so it cannot have started it"
    closeness = 1.0 / (1.0 + max(gap, timedelta()) / CLOSENESS_HALF)
    when = f"as {event}" if gap <= step else f"{_ago(gap)} before {event}"
    return closeness, f"{when} (closeness {closeness:.2f})"


def _match(change: Change, burning: BurnSeries | None) -> tuple[float, str]:
    """Whether the change touches what the burning SLO measures: its model, else its service."""
    labels = burning.labels if burning else {}
    model, service = labels.get("model"), labels.get("service")
    slo_name = burning.slo if burning else "the burning SLO"
    if not change.model or not (model or service):
        return 0.5, "not tied to a model the SLO names (match 0.5)"
    if change.model == model:
        return 1.0, f"changes {change.model}, the model {slo_name} measures (match 1.0)"
    if change.model == service:
        return 1.0, f"changes {change.model}, the service {slo_name} measures (match 1.0)"
    return 0.0, f"changes {change.model}, not {model or service} (match 0.0)"


def rank_suspects(
    changes: list[Change],
    onset: datetime,
    burning: BurnSeries | None,
    step: timedelta = STEP,
    *,
    event: str = "the burn began",
) -> list[Suspect]:
    """Changes before the onset (one step of slack), best suspect first."""
    scored = [score_change(c, onset, burning, step, event=event) for c in changes if c.ts <= onset + step]
    return sorted(scored, key=lambda s: (-s.score, onset - s.change.ts))


def score_shift(
    shift: DataShift,
    onset: datetime,
    burning: BurnSeries | None,
    model_from: str,
    step: timedelta = STEP,
    *,
    event: str = "the burn began",
) -> Suspect:
    """A data shift as a suspect: closeness of its first detection to the onset, and the model it feeds."""
    gap = onset - shift.since
    if gap >= -step:
        closeness = 1.0 / (1.0 + max(gap, timedelta()) / CLOSENESS_HALF)
        when = f"first detected as {event}" if gap <= step else f"first detected {_ago(gap)} before {event}"
    else:
        closeness = LATE_DRIFT / (1.0 + -gap / CLOSENESS_HALF)
        when = (
            f"first detected {_ago(gap)} after {event}; a drift test's rolling window notices "
            "a shift late, so it may still have started it"
        )
    reasons = [
        f"{when} (closeness {closeness:.2f})",
        f"inputs of {shift.model}, {model_from}, shifted (match 1.0)",
    ]
    if shift.ended is not None:
        reasons.append(f"no drift since {shift.ended:%H:%M}")
    change = shift.as_change()
    score = TIME_WEIGHT * closeness + MATCH_WEIGHT * 1.0
    return Suspect(change, round(score, 3), closeness, 1.0, reasons, shift)


def incident_model(incident: Incident, burning: BurnSeries | None) -> tuple[str | None, str]:
    """The incident's model (its alert's `model` label, else the SLO's) and where it came from, in words."""
    named = _alert_labels(incident).get("model")
    measured = burning.labels.get("model") if burning is not None else None
    model = named or measured
    if burning is not None and model and model == measured:
        return model, f"the model {burning.slo} measures"
    return model, ("the model the incident's alert names" if model else "")


def _alert_labels(incident: Incident) -> dict[str, Any]:
    """The labels of the alert the incident was declared for (none for one declared by hand)."""
    alert = (incident.detail or {}).get("alert") or {}
    return alert.get("labels") or {}


def _incident_slo(incident: Incident) -> str | None:
    return _alert_labels(incident).get("slo")


def what_changed(
    store: Store,
    slos: list[Any],
    incident: Incident,
    now: datetime,
    *,
    before: timedelta = BEFORE,
    step: timedelta = STEP,
    lookback: timedelta = CHANGE_LOOKBACK,
    workspace: Any = None,
) -> WhatChanged:
    """The burn from `before` the incident until it ended (or now), the changes, drift, and the suspects."""
    created = incident.created_at
    start, end = created - before, _panel_end(incident, now)
    series = burn_series(store, slos, start, end, step)
    burning = _burning(series, _incident_slo(incident), created)
    onset = burn_onset(burning, created) if burning else None
    anchor = onset or created
    changes = changes_between(store, min(start, anchor - lookback), end)
    event = "the burn began" if onset else "the incident was declared"
    model, model_from = incident_model(incident, burning)
    drift = _model_drift(store, model, start, end, created, lookback, workspace) if model else []
    suspects = rank_suspects([c for c in changes if c.ts <= created], anchor, burning, step, event=event)
    suspects += [
        score_shift(d, anchor, burning, model_from, step, event=event)
        for d in drift
        if d.since <= created and not d.is_output
    ]
    return WhatChanged(
        start, end, created, burning, series, onset, changes, rank(suspects, anchor), model, drift
    )


def rank(suspects: list[Suspect], anchor: datetime) -> list[Suspect]:
    """Best suspect first; a data shift first seen soon after a new version of its model went
    live ranks right after that version and says why: a version's own feature code can move
    the inputs it logs, while a shift cannot deploy a version."""
    causes = {id(s): _version_before(suspects, s) for s in suspects if s.shift is not None}
    for suspect in suspects:
        cause = causes.get(id(suspect))
        if cause is not None:
            gap = _ago(suspect.change.ts - cause.change.ts)
            suspect.reasons.append(
                f"first seen {gap} after {cause.change.describe()}, which may have caused it"
            )

    def key(suspect: Suspect) -> tuple[float, bool, timedelta]:
        cause = causes.get(id(suspect))
        lead = suspect if cause is None else cause
        return (-lead.score, cause is not None, anchor - suspect.change.ts)

    return sorted(suspects, key=key)


def _version_before(suspects: list[Suspect], shift: Suspect) -> Suspect | None:
    """The newest version change of the shift's model at most CLOSENESS_HALF before it began."""
    versions = [
        s
        for s in suspects
        if s.shift is None
        and s.change.version
        and s.change.model == shift.change.model
        and timedelta() <= shift.change.ts - s.change.ts <= CLOSENESS_HALF
    ]
    return max(versions, key=lambda s: s.change.ts, default=None)


def _panel_end(incident: Incident, now: datetime) -> datetime:
    """When the incident was resolved (now while it is not), never before it was declared."""
    return max(min(now, incident.resolved_at or now), incident.created_at)


def _model_drift(
    store: Store,
    model: str,
    start: datetime,
    end: datetime,
    declared: datetime,
    lookback: timedelta,
    workspace: Any,
) -> list[DataShift]:
    """The model's drifted columns, judged by its drift window's thresholds where the workspace sets them."""
    thresholds = window_thresholds(workspace, model)
    return drift_shifts(store, model, start, end, declared, lookback=lookback, thresholds=thresholds)


def _burning(series: list[BurnSeries], wanted: str | None, created: datetime) -> BurnSeries | None:
    """The SLO the incident's alert names, else the one burning hottest when it was declared."""
    named = next((s for s in series if s.slo == wanted), None)
    if named is None and series:
        return max(series, key=lambda s: s.at(created) or 0.0)
    return named
