"""The time-slice budget, the window's coverage and the page/ticket unions against a real
Prometheus over the same OpenMetrics file.

Sloth records `slo:sli_error:ratio_rate30d` as the mean of its recorded 5m error ratio over
30 days; the same PromQL as a subquery at a 1m step is what `oncall slo --timeslices` computes.
"""

from __future__ import annotations

import contextlib
import io
import json
import math
from datetime import datetime, timedelta

import pytest

from console.config.durations import format_duration
from console.slo.conditions import slo_alert_conditions
from console.slo.model import load_slo_file
from tests.servers import prometheus_query_range as query_range

from .conftest import DAYS, SLI, START, STEP, oncall

pytestmark = pytest.mark.integration

NOW = START + timedelta(days=DAYS) - timedelta(minutes=1)  # the last sample
FROM = START + timedelta(days=3)


def _json(*argv: str, now: datetime = NOW) -> list[dict]:
    import os

    out = io.StringIO()
    os.environ["ONCALL_NOW"] = now.isoformat() + "Z"
    try:
        with contextlib.redirect_stdout(out):
            assert oncall(*argv) == 0
    finally:
        del os.environ["ONCALL_NOW"]
    return json.loads(out.getvalue())


def _key(slo: str, metric: dict) -> tuple:
    return slo, tuple(sorted(metric.items()))


def _instant(server, expr: str, at: datetime) -> dict[tuple, float]:
    return {
        tuple(sorted(s["metric"].items())): float(s["values"][0][1])
        for s in query_range(server, expr, at, at, STEP)
    }


@pytest.fixture(scope="module")
def status(backfilled):
    rows = _json("-w", str(backfilled.workspace), "slo", "--timeslices", "--format", "json")
    return {_key(r["slo"], r["group"]): r for r in rows}


@pytest.mark.parametrize("slo", sorted(SLI))
def test_timeslice_budget_equals_sloths_promql(backfilled, status, slo):
    """Sloth's `sum_over_time(ratio_5m[30d]) / count_over_time(ratio_5m[30d])` over the 5m
    ratio evaluated every minute: the same mean, over the same number of slices."""
    ratio_5m = SLI[slo].format(w="5m")
    mean = _instant(
        backfilled.prometheus,
        f"sum_over_time(({ratio_5m})[30d:1m]) / count_over_time(({ratio_5m})[30d:1m])",
        NOW,
    )
    counts = _instant(backfilled.prometheus, f"count_over_time(({ratio_5m})[30d:1m])", NOW)
    assert mean, "Prometheus returned no time-slice mean"
    for labels, theirs in mean.items():
        mine = status[(slo, labels)]
        budget = 1 - mine["objective"] / 100
        slices = mine["timeslices"]
        assert slices["slices_with_value"] == counts[labels]
        assert slices["slices"] == 30 * 1440 + 1  # both ends of the window, as Prometheus 2.x
        assert math.isclose(slices["error_ratio"], theirs, rel_tol=1e-9)
        # Sloth's slo:period_error_budget_remaining:ratio = 1 - mean / (1 - objective)
        assert math.isclose(slices["budget_remaining"], 1 - theirs / budget, rel_tol=1e-9)
        # The events budget is another number: errors over all events, not a mean of ratios.
        assert not math.isclose(mine["budget_remaining"], slices["budget_remaining"], rel_tol=1e-6)


def test_a_30d_slo_over_4_days_of_data_says_so(backfilled, status, capsys):
    for row in status.values():
        coverage = row["coverage"]
        assert coverage["partial"] is True
        assert coverage["data_since"] == START.isoformat() + "Z"
        assert coverage["covered_seconds"] == (NOW - START).total_seconds()
        assert coverage["window_seconds"] == 30 * 86400
    import os

    os.environ["ONCALL_NOW"] = NOW.isoformat() + "Z"
    try:
        assert oncall("-w", str(backfilled.workspace), "slo") == 0
    finally:
        del os.environ["ONCALL_NOW"]
    lines = capsys.readouterr().out.splitlines()
    (latency,) = [line for line in lines if line.startswith("checkout-latency")]
    assert latency.count("(4d/30d)") == 2  # after the SLI and after the budget


@pytest.mark.parametrize("slo", sorted(SLI))
def test_page_and_ticket_unions_equal_promql_or(backfilled, slo):
    """`pages`/`tickets` of the backtest: the instants where `cond_a or cond_b` of that
    severity returns a value."""
    (spec,) = [s for s in load_slo_file(backfilled.workspace / "slos.yaml") if s.name == slo]
    argv = ["-w", str(backfilled.workspace), "slo", "backtest", slo, "--format", "json"]
    argv += ["--from", FROM.isoformat() + "Z", "--to", NOW.isoformat() + "Z", "--step", "1m"]
    report = {tuple(sorted(r["group"].items())): r for r in _json(*argv)}
    found = 0
    for severity, key in (("page", "pages"), ("ticket", "tickets")):
        exprs = [
            f"(({SLI[slo].format(w=format_duration(c.long_window))}) > {c.threshold!r} and "
            f"({SLI[slo].format(w=format_duration(c.short_window))}) > {c.threshold!r})"
            for c in slo_alert_conditions(spec)
            if c.severity == severity
        ]
        theirs = {
            tuple(sorted(s["metric"].items())): {int(t) for t, _ in s["values"]}
            for s in query_range(backfilled.prometheus, " or ".join(exprs), FROM, NOW, STEP)
        }
        for group, row in report.items():
            mine: set[int] = set()
            for interval in row[key]:
                at = datetime.fromisoformat(interval["from"][:-1])
                while at <= datetime.fromisoformat(interval["to"][:-1]):
                    mine.add(int((at - datetime(1970, 1, 1)).total_seconds()))
                    at += STEP
            assert mine == theirs.get(group, set()), (severity, group)
            assert row[f"would_{severity}"] == len(row[key])
            found += len(mine)
    assert found > 0
