"""How much of the SLO window the data covers, and the time-slice budget, worked by hand."""

from datetime import timedelta

import numpy as np
import pytest

from console.slo.backtest import timeslices
from console.slo.status import slo_status
from console.store import Store
from tests.unit.test_slo import NOW, feed, grid, put, ratio_slo
from tests.unit.test_slo_cli import workspace  # noqa: F401  (the fixture)


@pytest.fixture()
def store(tmp_path):
    with Store.open(tmp_path / "s.duckdb") as store:
        yield store


def test_a_week_of_data_covers_a_week_of_a_30d_window(store):
    feed(store, 7, 1000, lambda ts: [0 for t in ts])
    (status,) = slo_status(store, [ratio_slo()], NOW)
    cover = status.coverage
    assert cover is not None and cover.partial
    assert cover.window == timedelta(days=30)
    # grid(7) starts 7 days before NOW; the first sample in the window is the first of all.
    assert cover.data_since == NOW - timedelta(days=7) + timedelta(minutes=5)
    assert cover.covered == timedelta(days=7) - timedelta(minutes=5)


def test_data_older_than_the_window_covers_it(store):
    feed(store, 31, 1000, lambda ts: [0 for t in ts])
    (status,) = slo_status(store, [ratio_slo()], NOW)
    assert status.coverage is not None and not status.coverage.partial
    assert status.coverage.covered == timedelta(days=30)


def test_each_group_has_its_own_coverage(store):
    times = grid(31)
    put(store, "req_total", {"code": "200", "az": "old"}, times, np.cumsum(np.full(len(times), 100.0)))
    recent = times[-3 * 288 :]  # a zone added three days ago
    put(store, "req_total", {"code": "200", "az": "new"}, recent, np.cumsum(np.full(len(recent), 100.0)))
    slo = ratio_slo(sli={"ratio": {"bad": 'req_total{code="500"}', "total": "req_total", "by": ["az"]}})
    by_zone = {s.group["az"]: s.coverage for s in slo_status(store, [slo], NOW)}
    assert not by_zone["old"].partial
    assert by_zone["new"].partial and by_zone["new"].covered == timedelta(days=3) - timedelta(minutes=5)


def test_alert_evaluation_reads_no_coverage(store):
    feed(store, 7, 1000, lambda ts: [0 for t in ts])
    (status,) = slo_status(store, [ratio_slo()], NOW, with_period=False)
    assert status.coverage is None


def test_timeslices_average_the_5m_ratio_not_the_events(store):
    """Busy half the time with no errors, quiet half the time with 50% errors: by events the
    errors are diluted by the busy traffic, by time slices each 5m counts the same."""
    times = grid(31)
    quiet = np.array([t.hour < 12 for t in times])
    total = np.where(quiet, 10.0, 1000.0)
    bad = np.where(quiet, 5.0, 0.0)
    put(store, "req_total", {"code": "200"}, times, np.cumsum(total - bad))
    put(store, "req_total", {"code": "500"}, times, np.cumsum(bad))
    slo = ratio_slo(objective=50)
    (status,) = slo_status(store, [slo], NOW)
    (sliced,) = timeslices(store, [slo], NOW, timedelta(minutes=5))
    assert sliced.slices == 30 * 288 + 1 and sliced.with_value == sliced.slices
    # Each 5m ratio is that step's own: 0.5 in the quiet hours, 0 in the busy ones. The
    # window's both ends fall on midnight (quiet: the step ending at 00:00 is 23:55–00:00, busy).
    quiet_slices = sum(1 for k in range(sliced.slices) if (NOW - timedelta(minutes=5 * k)).hour < 12)
    assert sliced.error_ratio == pytest.approx(0.5 * quiet_slices / sliced.slices, rel=1e-12)
    assert sliced.budget_remaining == pytest.approx(1 - sliced.error_ratio / 0.5, rel=1e-12)
    assert status.period.error_ratio == pytest.approx(5 / 1010, rel=1e-9)


def test_status_says_how_much_of_the_window_the_data_covers(workspace, capsys):  # noqa: F811
    import json

    from console.cli.main import main

    assert main(["-w", workspace, "slo"]) == 0
    _header, api, idle = capsys.readouterr().out.splitlines()[:3]
    assert api.count("(4d/30d)") == 2  # after the SLI and after the budget
    assert "(4d/30d)" not in idle  # no traffic: no SLI to qualify
    assert main(["-w", workspace, "slo", "--format", "json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert rows[0]["coverage"] == {
        "data_since": (NOW - timedelta(days=4)).isoformat() + "Z",
        "covered_seconds": 4 * 86400.0,
        "window_seconds": 30 * 86400.0,
        "partial": True,
    }
    assert "timeslices" not in rows[0]


def test_timeslices_are_labelled_beside_the_events_numbers(workspace, capsys):  # noqa: F811
    import json

    from console.cli.main import main

    assert main(["-w", workspace, "slo", "--timeslices"]) == 0
    header, api, _idle = capsys.readouterr().out.splitlines()[:3]
    assert "SLI (EVENTS)" in header and "BUDGET (EVENTS)" in header
    assert "SLI (5M SLICES)" in header and "BUDGET (5M SLICES)" in header
    assert api.count("(4d/30d)") == 4
    assert main(["-w", workspace, "slo", "--timeslices", "5m", "--format", "json"]) == 0
    api_row, idle_row = json.loads(capsys.readouterr().out)
    sliced = api_row["timeslices"]
    assert sliced["step_seconds"] == 300 and sliced["slices"] == 30 * 288 + 1
    assert sliced["slices_with_value"] == 4 * 288  # the first sample has no 5m ratio yet
    assert idle_row["timeslices"]["error_ratio"] is None and idle_row["timeslices"]["slices_with_value"] == 0


def test_a_bad_timeslice_step_is_a_usage_error(workspace, capsys):  # noqa: F811
    from console.cli.main import main

    with pytest.raises(SystemExit) as caught:
        main(["-w", workspace, "slo", "--timeslices", "soon"])
    assert caught.value.code == 2 and "--timeslices: not a duration: 'soon'" in capsys.readouterr().err
