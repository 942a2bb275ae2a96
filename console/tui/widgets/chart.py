"""A time-series chart with axes: HH:MM UTC time labels, a value axis with its unit, threshold
lines and a legend, drawn by plotext (through textual-plotext) rather than axis math per screen.

Deterministic: a fixed plotext theme ("clear", no terminal-dependent background) and fixed
series colours; the time axis comes from the data, never from the wall clock.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from rich.text import Text
from textual.app import RenderResult
from textual_plotext import PlotextPlot

Points = Sequence[tuple[datetime, float | None]]

COLOURS = ("cyan", "orange", "magenta", "green", "blue")
THRESHOLD_COLOUR = "red"
MARKER_COLOURS = {"change": "yellow", "drift": "magenta", "declared": "red"}


@dataclass(frozen=True)
class Series:
    name: str
    points: list[tuple[datetime, float]]


@dataclass(frozen=True)
class ThresholdLine:
    value: float
    label: str


@dataclass(frozen=True)
class Marker:
    """A moment on the time axis (a deploy, drift first seen): a vertical line tagged with its number."""

    time: datetime
    label: str
    kind: str = "change"  # change, drift or declared: picks the line's fixed colour


def marker_caption(markers: Sequence[Marker]) -> Text:
    """The markers' numbers with their times and labels, a line under the chart."""
    out = Text()
    for n, m in enumerate(markers, 1):
        if n > 1:
            out.append(" · ", style="dim")
        out.append(f"{n}", style=f"bold {MARKER_COLOURS.get(m.kind, 'yellow')}")
        out.append(f" {utc(m.time):%H:%M} {m.label}", style="dim")
    return out


def utc(t: datetime) -> datetime:
    """`t` in UTC; a naive time (as the store returns) is taken to be UTC already."""
    return t.replace(tzinfo=UTC) if t.tzinfo is None else t.astimezone(UTC)


STEPS = (10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 10800, 21600, 43200, 86400)


def time_ticks(start: datetime, end: datetime, count: int) -> tuple[list[float], list[str]]:
    """At most `count` ticks on round times (every 10 s … 1 day) from `start` to `end`, as
    seconds after `start` and HH:MM (HH:MM:SS when the step is under a minute)."""
    span = (end - start).total_seconds()
    step = next((s for s in STEPS if span / s < max(count, 2)), STEPS[-1])
    fmt = "%H:%M" if step >= 60 or span <= 0 else "%H:%M:%S"
    first = -(-start.timestamp() // step) * step  # the first round time at or after start
    xs = [
        first + i * step - start.timestamp()
        for i in range(int((span - (first - start.timestamp())) // step) + 1)
    ]
    if not xs:
        return [0.0], [start.strftime(fmt)]
    return xs, [datetime.fromtimestamp(start.timestamp() + x, UTC).strftime(fmt) for x in xs]


class TimeChart(PlotextPlot):
    """One or more time series against UTC time, with optional horizontal threshold lines."""

    DEFAULT_CSS = "TimeChart { height: 12; }"

    def __init__(self, unit: str = "", *, id: str | None = None, classes: str | None = None) -> None:
        super().__init__(id=id, classes=classes)
        self.theme = "clear"
        self.unit = unit
        self.series: list[Series] = []
        self.thresholds: list[ThresholdLine] = []
        self.markers: list[Marker] = []
        self.window: tuple[datetime, datetime] | None = None

    def show(
        self,
        series: dict[str, Points],
        *,
        unit: str | None = None,
        thresholds: Sequence[ThresholdLine] = (),
        markers: Sequence[Marker] = (),
        window: tuple[datetime, datetime] | None = None,
    ) -> None:
        """Replace what is drawn: `series` by name (None values are gaps, left out), thresholds,
        markers (those outside the span are left out), and the time axis's `window` (else the data's)."""
        if unit is not None:
            self.unit = unit
        self.window = (utc(window[0]), utc(window[1])) if window is not None else None
        self.series = [
            Series(name, sorted((utc(t), float(x)) for t, x in points if x is not None and self._inside(t)))
            for name, points in series.items()
        ]
        self.thresholds = list(thresholds)
        span = self.span
        self.markers = sorted(
            (m for m in markers if span is not None and span[0] <= utc(m.time) <= span[1]),
            key=lambda m: utc(m.time),
        )
        self.refresh()

    def _inside(self, t: datetime) -> bool:
        return self.window is None or self.window[0] <= utc(t) <= self.window[1]

    @property
    def span(self) -> tuple[datetime, datetime] | None:
        if self.window is not None:
            return self.window
        times = [t for s in self.series for t, _ in s.points]
        return (min(times), max(times)) if times else None

    def render(self) -> RenderResult:
        self._draw()
        return super().render()

    def _draw(self) -> None:
        plt = self.plt
        plt.clear_figure()
        plt.ylabel(self.unit)
        plt.xlabel("time (UTC)")
        span = self.span
        if span is None or not any(s.points for s in self.series):
            plt.title("no values recorded")
            return
        start, end = span
        legend = len(self.series) > 1 or bool(self.thresholds)
        right = max((end - start).total_seconds(), 1.0)
        for line in self.thresholds:  # first: the values are drawn over them, never hidden
            label = line.label or None  # an empty label: no legend row (another line names it)
            plt.plot([0.0, right], [line.value, line.value], label=label, color=THRESHOLD_COLOUR)
        for i, s in enumerate(self.series):
            xs = [(t - start).total_seconds() for t, _ in s.points]
            label = s.name if legend else None
            plt.plot(
                xs, [x for _, x in s.points], label=label, color=COLOURS[i % len(COLOURS)], marker="braille"
            )
        if self.window is not None:
            plt.xlim(0.0, right)  # the axis runs to the window's end, past the last sample
        self._draw_markers(start)
        xs, labels = time_ticks(start, end, max(2, min(8, self.size.width // 14)))
        plt.xticks(xs, labels)

    def _draw_markers(self, start: datetime) -> None:
        """Each marker as a vertical line with its number at the top (marker_caption names them)."""
        values = [x for s in self.series for _, x in s.points] + [t.value for t in self.thresholds]
        low, top = min(values), max(values)
        if self.markers:  # headroom above the lines for the markers' numbers
            top += max(top - low, 1.0) * 0.2
            self.plt.ylim(low, top)
        for n, m in enumerate(self.markers, 1):
            x = (utc(m.time) - start).total_seconds()
            colour = MARKER_COLOURS.get(m.kind, "yellow")
            self.plt.vline(x, color=colour)
            self.plt.text(str(n), x, top, color=colour, alignment="center")
