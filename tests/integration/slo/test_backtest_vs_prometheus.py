"""`oncall slo backtest` against PromQL on a real Prometheus over the same OpenMetrics file."""

from __future__ import annotations

import json
import math
from datetime import datetime, timedelta

import pytest

from console.config.durations import format_duration
from console.slo.conditions import slo_alert_conditions
from console.slo.model import WINDOWS, load_slo_file
from tests.servers import prometheus_query_range as query_range

from .conftest import DAYS, ERROR_BURST, RESET_AT, SLI, SLOW_SPELL, START, oncall

pytestmark = pytest.mark.integration

# Every window needs a full 3 days of history behind it.
FROM = START + timedelta(days=3)
TO = START + timedelta(days=DAYS) - timedelta(minutes=1)
STEP = timedelta(minutes=1)


@pytest.fixture(scope="module")
def report(backfilled):
    import contextlib
    import io

    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        code = oncall(
            "-w",
            str(backfilled.workspace),
            "slo",
            "backtest",
            "--all",
            "--from",
            FROM.isoformat() + "Z",
            "--to",
            TO.isoformat() + "Z",
            "--step",
            "1m",
            "--format",
            "json",
        )
    assert code == 0
    return {(r["slo"], tuple(sorted(r["group"].items()))): r for r in json.loads(out.getvalue())}


def _key(slo: str, metric: dict) -> tuple:
    return slo, tuple(sorted(metric.items()))


def _iso(epoch: float) -> str:
    return (datetime(1970, 1, 1) + timedelta(seconds=epoch)).isoformat() + "Z"


@pytest.mark.parametrize("slo", sorted(SLI))
def test_error_ratio_per_window_equals_promql(backfilled, report, slo):
    compared = 0
    for window in WINDOWS:
        w = format_duration(window)
        result = query_range(backfilled.prometheus, SLI[slo].format(w=w), FROM, TO, STEP)
        assert result, f"Prometheus returned nothing for {slo} {w}"
        for series in result:
            ours = report[_key(slo, series["metric"])]
            by_time = dict(zip(ours["times"], ours["windows"][w]["error_ratio"]))
            assert len(series["values"]) == len(ours["times"])
            for epoch, text in series["values"]:
                theirs, mine = float(text), by_time[_iso(epoch)]
                assert mine is not None, (slo, w, _iso(epoch))
                assert math.isclose(mine, theirs, rel_tol=1e-9, abs_tol=1e-15), (
                    slo,
                    series["metric"],
                    w,
                    _iso(epoch),
                    mine,
                    theirs,
                )
                compared += 1
    # Both instances for availability, one group for latency; every grid point, every window.
    points = int((TO - FROM) / STEP) + 1
    assert compared == points * len(WINDOWS) * (2 if slo == "checkout-availability" else 1)


@pytest.mark.parametrize("slo", sorted(SLI))
def test_alert_timestamps_equal_promql_multiwindow_conditions(backfilled, report, slo):
    (spec,) = [s for s in load_slo_file(backfilled.workspace / "slos.yaml") if s.name == slo]
    fired = 0
    for cond in slo_alert_conditions(spec):
        expr = (
            f"({SLI[slo].format(w=format_duration(cond.long_window))}) > {cond.threshold!r} and "
            f"({SLI[slo].format(w=format_duration(cond.short_window))}) > {cond.threshold!r}"
        )
        theirs = {
            _key(slo, s["metric"]): {_iso(e) for e, _ in s["values"]}
            for s in query_range(backfilled.prometheus, expr, FROM, TO, STEP)
        }
        for key, group in report.items():
            if key[0] != slo:
                continue
            (mine,) = [c for c in group["conditions"] if c["name"] == cond.name]
            held = set()
            for interval in mine["intervals"]:
                at = datetime.fromisoformat(interval["from"][:-1])
                while at <= datetime.fromisoformat(interval["to"][:-1]):
                    held.add(at.isoformat() + "Z")
                    at += STEP
            assert held == theirs.get(key, set()), (cond.name, key)
            fired += len(held)
    assert fired > 0, "the incident should have held some condition"


def test_incidents_page_and_the_reset_is_not_an_outage(report):
    availability_b = report[("checkout-availability", (("instance", "b"),))]
    availability_a = report[("checkout-availability", (("instance", "a"),))]
    latency = report[("checkout-latency", ())]
    assert availability_a["would_page"] == 1 and availability_b["would_page"] == 1
    assert latency["would_page"] == 1
    # The page starts once the 1h error ratio passes 14.4x the budget: with 20% and 30% of
    # requests failing that takes under half an hour.
    for group, (begin, _) in ((availability_b, ERROR_BURST), (latency, SLOW_SPELL)):
        (page,) = [c for c in group["conditions"] if c["name"].endswith("page:1h")]
        first = datetime.fromisoformat(page["intervals"][0]["from"][:-1])
        assert begin < first <= begin + timedelta(minutes=30)
    # Around the restart instance b's 5m error ratio stays small: a drop is a reset, not a loss.
    times = availability_b["times"]
    k = times.index(RESET_AT.isoformat() + "Z")
    window = availability_b["windows"]["5m"]["error_ratio"][k - 5 : k + 6]
    assert max(window) < 0.05


def test_status_table_shows_no_nan(backfilled, capsys):
    import os

    os.environ["ONCALL_NOW"] = TO.isoformat() + "Z"
    try:
        assert oncall("-w", str(backfilled.workspace), "slo") == 0
    finally:
        del os.environ["ONCALL_NOW"]
    text = capsys.readouterr().out
    assert "checkout-availability {instance=a}" in text and "checkout-latency" in text
    assert "nan" not in text.lower() and "inf" not in text.lower()
