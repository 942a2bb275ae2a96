"""SLOs on alert windows given as data (Sloth's AlertWindows) against PromQL on a real Prometheus.

A 7d SLO on Sloth's 7d example windows pages at 13.44 / 3.5 / 1.4 / 0.98 × its budget; its
backtest must hold exactly where `(ER_long > f·B) and (ER_short > f·B)` holds in Prometheus
over the same backfilled data.  A workspace's own spec (Sloth's custom-30d example, windows
down to 2m) is held to the same standard, its windows' error ratios included.
"""

from __future__ import annotations

import contextlib
import io
import json
import math
from datetime import datetime

import pytest

from tests.servers import prometheus_query_range as query_range

from .conftest import ERROR_BURST, oncall
from .test_backtest_vs_prometheus import FROM, SLI, STEP, TO, _iso, _key

pytestmark = pytest.mark.integration

AVAILABILITY = SLI["checkout-availability"]
SLOTH_7D_FACTORS = [13.44, 3.5, 1.4000000000000001, 0.98]  # what Sloth writes for its 7d example

SLO_FILE = """\
slos:
  - name: checkout-7d-sloth
    objective: 99.5
    window: 7d
    alert_windows: sloth-7d
    sli:
      ratio: {bad: 'http_requests_total{code=~"5.."}', total: http_requests_total, by: [instance]}
  - name: checkout-7d-default
    objective: 99.5
    window: 7d
    sli:
      ratio: {bad: 'http_requests_total{code=~"5.."}', total: http_requests_total, by: [instance]}
  - name: checkout-fast-30d
    objective: 99.5
    alert_windows: fast-30d
    sli:
      ratio: {bad: 'http_requests_total{code=~"5.."}', total: http_requests_total, by: [instance]}
"""

# Sloth's examples/windows/custom-30d.yaml, named.
WINDOWS_FILE = """\
apiVersion: sloth.slok.dev/v1
kind: AlertWindows
metadata: {name: fast-30d}
spec:
  sloPeriod: 30d
  page:
    quick: {errorBudgetPercent: 1, shortWindow: 2m, longWindow: 30m}
    slow: {errorBudgetPercent: 2, shortWindow: 15m, longWindow: 3h}
  ticket:
    quick: {errorBudgetPercent: 5, shortWindow: 1h, longWindow: 12h}
    slow: {errorBudgetPercent: 5, shortWindow: 3h, longWindow: 36h}
"""
NAMES = ("checkout-7d-sloth", "checkout-7d-default", "checkout-fast-30d")


@pytest.fixture(scope="module")
def report(backfilled):
    ws = backfilled.workspace
    (ws / "slos-windows.yaml").write_text(SLO_FILE)
    (ws / "windows.yaml").write_text(WINDOWS_FILE)
    (ws / "oncall.yaml").write_text(
        "store: oncall.duckdb\nslos: [slos.yaml, slos-windows.yaml]\nalert_windows: [windows.yaml]\n"
    )
    found = {}
    for name in NAMES:
        out = io.StringIO()
        with contextlib.redirect_stdout(out):
            code = oncall(
                "-w", str(ws), "slo", "backtest", name, "--from", FROM.isoformat() + "Z",
                "--to", TO.isoformat() + "Z", "--step", "1m", "--format", "json",
            )  # fmt: skip
        assert code == 0
        found.update({(r["slo"], tuple(sorted(r["group"].items()))): r for r in json.loads(out.getvalue())})
    return found


def _held(condition: dict) -> set[str]:
    held = set()
    for interval in condition["intervals"]:
        at = datetime.fromisoformat(interval["from"][:-1])
        while at <= datetime.fromisoformat(interval["to"][:-1]):
            held.add(at.isoformat() + "Z")
            at += STEP
    return held


def _conditions(report: dict, name: str) -> list[dict]:
    groups = [group for key, group in report.items() if key[0] == name]
    assert len(groups) == 2  # instances a and b
    return groups[0]["conditions"]


def test_a_7d_slo_on_sloth_s_7d_windows_has_sloth_s_factors(report):
    conditions = _conditions(report, "checkout-7d-sloth")
    assert [c["factor"] for c in conditions] == SLOTH_7D_FACTORS
    assert [(c["alert_windows"], c["speed"], c["budget_percent"]) for c in conditions] == [
        ("sloth-7d", "quick", 8),
        ("sloth-7d", "slow", 12.5),
        ("sloth-7d", "quick", 20),
        ("sloth-7d", "slow", 42),
    ]
    assert [c["threshold"] for c in conditions] == [f * (1 - 99.5 / 100) for f in SLOTH_7D_FACTORS]
    # Without a spec a 7d SLO keeps Google's budget shares over 7 days, as it did.
    default = _conditions(report, "checkout-7d-default")
    assert [c["factor"] for c in default] == [3.36, 1.4, 0.7, 0.233333333]
    assert {c["alert_windows"] for c in default} == {"google-30d scaled to 7d"}
    fast = _conditions(report, "checkout-fast-30d")
    assert [(c["long_window"], c["short_window"]) for c in fast] == [
        ("30m", "2m"),
        ("3h", "15m"),
        ("12h", "1h"),
        ("1d12h", "3h"),
    ]


@pytest.mark.parametrize("name", NAMES)
def test_alert_instants_equal_promql_er_long_and_er_short_over_f_times_b(backfilled, report, name):
    fired = 0
    for condition in _conditions(report, name):
        factor, budget = condition["factor"], 1 - 99.5 / 100
        expr = (
            f"({AVAILABILITY.format(w=condition['long_window'])}) > ({factor!r} * {budget!r}) and "
            f"({AVAILABILITY.format(w=condition['short_window'])}) > ({factor!r} * {budget!r})"
        )
        theirs = {
            _key(name, s["metric"]): {_iso(e) for e, _ in s["values"]}
            for s in query_range(backfilled.prometheus, expr, FROM, TO, STEP)
        }
        for key, group in report.items():
            if key[0] != name:
                continue
            (mine,) = [c for c in group["conditions"] if c["name"] == condition["name"]]
            held = _held(mine)
            assert held == theirs.get(key, set()), (condition["name"], key)
            fired += len(held)
    assert fired > 0, "the error burst should have held some condition"


def test_sloth_s_7d_windows_page_later_and_stop_sooner_than_google_s_shares(report):
    key = (("instance", "b"),)
    sloth = report[("checkout-7d-sloth", key)]["conditions"][0]
    google = report[("checkout-7d-default", key)]["conditions"][0]
    assert sloth["long_window"] == google["long_window"] == "1h" and sloth["short_window"] == "5m"
    assert _held(sloth) and _held(sloth) < _held(google)  # 13.44 × B is a higher bar than 3.36 × B
    first = datetime.fromisoformat(min(_held(sloth))[:-1])
    assert ERROR_BURST[0] < first <= ERROR_BURST[1]


def test_a_workspace_spec_s_own_windows_equal_promql(backfilled, report):
    compared = 0
    for window in ("2m", "15m", "30m", "3h", "12h", "1d12h"):
        result = query_range(backfilled.prometheus, AVAILABILITY.format(w=window), FROM, TO, STEP)
        assert result
        for series in result:
            ours = report[_key("checkout-fast-30d", series["metric"])]
            by_time = dict(zip(ours["times"], ours["windows"][window]["error_ratio"]))
            for epoch, text in series["values"]:
                mine = by_time[_iso(epoch)]
                assert mine is not None and math.isclose(mine, float(text), rel_tol=1e-9, abs_tol=1e-15), (
                    window,
                    series["metric"],
                    _iso(epoch),
                )
                compared += 1
    assert compared == 2 * 6 * (int((TO - FROM) / STEP) + 1)
