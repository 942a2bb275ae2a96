"""The incident burn chart's window (an hour before the onset to now), its markers and thresholds."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from console.incidents.suspects import BurnSeries, Change, DataShift, WhatChanged
from console.slo.model import load_slo_file
from console.tui.screens.incident_chart import burn_summary, chart_markers, chart_window, page_thresholds
from console.tui.widgets.chart import marker_caption

DECLARED = datetime(2026, 11, 20, 12, 0)
ONSET = DECLARED - timedelta(minutes=20)
NOW = DECLARED + timedelta(minutes=30)


def what(*, onset: datetime | None = ONSET, end: datetime = NOW) -> WhatChanged:
    times = [DECLARED - timedelta(hours=3) + timedelta(minutes=5 * i) for i in range(43)]
    burns: list[float | None] = [
        20.0 if ONSET <= t <= DECLARED + timedelta(minutes=10) else 0.2 for t in times
    ]
    burning = BurnSeries("scoring-availability", {}, times, burns)
    changes = [
        Change(ONSET - timedelta(hours=2), "alias_move", "m1", "2", "ci", "demo"),  # before the window
        Change(ONSET - timedelta(minutes=10), "deploy", "m1", "3", "ci", "demo"),
        Change(NOW + timedelta(minutes=1), "deploy", "m1", "4", "ci", "demo"),  # after now
    ]
    drift = [DataShift("m1", "amount", "wasserstein", 0.8, 0.1, ">=", ONSET + timedelta(minutes=2), NOW)]
    return WhatChanged(
        DECLARED - timedelta(hours=3), end, DECLARED, burning, [burning], onset, changes, [], "m1", drift
    )


def test_the_window_runs_from_an_hour_before_the_onset_to_now() -> None:
    assert chart_window(what(), NOW) == (
        (ONSET - timedelta(hours=1)).replace(tzinfo=UTC),
        NOW.replace(tzinfo=UTC),
    )
    later = NOW + timedelta(minutes=7)  # the next refresh: the window ends at the clock's now
    assert chart_window(what(end=later), later)[1] == later.replace(tzinfo=UTC)


def test_without_an_onset_the_window_starts_an_hour_before_the_declaration() -> None:
    assert chart_window(what(onset=None), NOW)[0] == (DECLARED - timedelta(hours=1)).replace(tzinfo=UTC)


def test_a_resolved_incident_s_window_ends_at_its_resolution() -> None:
    resolved = DECLARED + timedelta(minutes=15)
    assert chart_window(what(end=resolved), NOW + timedelta(days=2))[1] == resolved.replace(tzinfo=UTC)


def test_markers_are_the_changes_and_drift_onsets_inside_the_window_oldest_first() -> None:
    w = what()
    markers = chart_markers(w, chart_window(w, NOW))
    assert [(m.time, m.kind) for m in markers] == [
        (ONSET - timedelta(minutes=10), "change"),
        (ONSET + timedelta(minutes=2), "drift"),
        (DECLARED, "declared"),
    ]
    assert markers[0].label == "deploy m1 v3 by ci"
    assert markers[1].label == "drift amount"
    caption = marker_caption(markers).plain
    assert caption == "1 11:30 deploy m1 v3 by ci · 2 11:42 drift amount · 3 12:00 declared"


SLO_YAML = """
slos:
  - name: scoring-availability
    objective: 99
    window: {window}
    sli:
      ratio:
        bad: requests_total{{code="500"}}
        total: requests_total
    alerting: {{page: {page}}}
"""


def slos(window: str = "30d", page: str = "true") -> list:
    return load_slo_file("slos.yaml", SLO_YAML.format(window=window, page=page))


def test_thresholds_are_the_slo_s_page_burn_rates() -> None:
    assert [(t.value, t.label) for t in page_thresholds(slos(), "scoring-availability")] == [
        (14.4, "page 14.4× · 6×"),
        (6.0, ""),
    ]
    assert [t.value for t in page_thresholds(slos("7d"), "scoring-availability")] == [3.36, 1.4]
    assert page_thresholds(slos(page="false"), "scoring-availability") == []  # no pages: no lines
    assert [t.value for t in page_thresholds([], "unknown")] == [14.4, 6.0]  # not found: the defaults


def test_the_summary_names_the_latest_burn_up_to_now_and_its_time() -> None:
    text = burn_summary(what(), NOW).plain
    assert text == "What changed · scoring-availability · 0.2× at 12:30 · peak 20.0×"
    assert burn_summary(None, NOW).plain == "What changed · no SLO burn data for this incident"


def test_a_marker_label_from_the_store_cannot_drive_the_terminal() -> None:
    w = what()
    w.changes = [Change(ONSET, "deploy", "m1\x1b[2J", "3", "ci\x07", "demo")]
    [label] = [m.label for m in chart_markers(w, chart_window(w, NOW)) if m.kind == "change"]
    assert "\x1b" not in label and "\x07" not in label
    assert label.startswith("deploy m1\\x1b[2J")
