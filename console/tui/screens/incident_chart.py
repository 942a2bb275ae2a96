"""The incident screen's burn chart: the burning SLO's 5m burn from an hour before the burn began
until now, the page burn rates as threshold lines, and the changes and drift onsets as markers."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from rich.text import Text

from console.core.terminal import escape
from console.tui.widgets.chart import Marker, Points, ThresholdLine, utc

if TYPE_CHECKING:
    from console.incidents.suspects import WhatChanged
    from console.tui.widgets.chart import TimeChart

LEAD = timedelta(hours=1)  # the chart starts this long before the burn began
PAGE_BURNS = (14.4, 6.0)  # the page conditions' burn rates when the SLO's are not known
MARKER_LABEL = 24  # characters of a marker's label


def chart_window(what: WhatChanged, now: datetime) -> tuple[datetime, datetime]:
    """From an hour before the burn's onset (the declaration when no onset) to `now`; to the
    resolution for a resolved incident (`what.end`: no burn is loaded after it)."""
    start = utc(what.onset or what.incident_start) - LEAD
    return start, max(min(utc(now), utc(what.end)), start + timedelta(minutes=1))


def page_thresholds(slos: list[Any], slo_name: str | None) -> list[ThresholdLine]:
    """The burning SLO's page burn rates as threshold lines (14.4× and 6× when it is not found;
    none when its pages are off)."""
    from console.slo.conditions import slo_alert_conditions

    slo = next((s for s in slos if getattr(s, "name", None) == slo_name), None)
    factors = [c.factor for c in slo_alert_conditions(slo) if c.severity == "page"] if slo else PAGE_BURNS
    values = sorted(set(factors), reverse=True)
    named = "page " + " · ".join(f"{f:g}×" for f in values)  # one legend row for them all
    return [ThresholdLine(f, named if n == 0 else "") for n, f in enumerate(values)]


def _short(text: str) -> str:
    """A marker's label on one line, its control characters shown escaped, cut to MARKER_LABEL."""
    flat = escape(" ".join(text.split()))
    return flat if len(flat) <= MARKER_LABEL else flat[: MARKER_LABEL - 1] + "…"


def chart_markers(what: WhatChanged, window: tuple[datetime, datetime]) -> list[Marker]:
    """The changes and drift onsets inside the window, and the declaration, oldest first."""
    start, end = window
    found = [Marker(c.ts, _short(c.short()), "change") for c in what.changes]
    found += [Marker(d.since, _short(f"drift {d.column}"), "drift") for d in what.drift]
    found.append(Marker(what.incident_start, "declared", "declared"))
    return sorted((m for m in found if start <= utc(m.time) <= end), key=lambda m: utc(m.time))


def burn_summary(what: WhatChanged | None, now: datetime) -> Text:
    """The panel's title: the SLO's name, and its burn's peak and latest value up to `now`."""
    out = Text("What changed · ", style="bold")
    burning = what.burning if what is not None else None
    if burning is None:
        return out.append("no SLO burn data for this incident", style="dim")
    values = [(t, b) for t, b in zip(burning.times, burning.burn) if b is not None and utc(t) <= utc(now)]
    out.append(burning.slo, style="bold")
    if not values:
        return out.append(" · no burn recorded", style="dim")
    last_t, last = values[-1]
    out.append(" · ").append(f"{last:.1f}×", style="bold red" if last > 1 else "bold green")
    return out.append(f" at {last_t:%H:%M} · peak {max(b for _, b in values):.1f}×")


def show_burn(chart: TimeChart, what: WhatChanged | None, slos: list[Any], now: datetime) -> list[Marker]:
    """Draw the burn on `chart` (empty without burn data); the markers drawn, for the caption."""
    burning = what.burning if what is not None else None
    if what is None or burning is None:
        chart.show({}, unit="burn ×")
        return []
    window = chart_window(what, now)
    markers = chart_markers(what, window)
    series: dict[str, Points] = {"burn 5m": list(zip(burning.times, burning.burn))}
    if burning.burn_1h:
        series["burn 1h"] = list(zip(burning.times, burning.burn_1h))
    chart.show(
        series,
        unit="burn ×",
        thresholds=page_thresholds(slos, burning.slo),
        markers=markers,
        window=window,
    )
    return chart.markers
