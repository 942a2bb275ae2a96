"""`oncall slo --at TIME` against a real Prometheus's instant queries at the same `time=`: the
same instant for the forms both accept, the same error ratios during and before an error
burst, and, past the data or before it, an answer with nothing in it from both."""

from __future__ import annotations

import contextlib
import io
import json
from datetime import datetime, timedelta

import httpx
import pytest

from console.cli.times import parse_time

from .conftest import ERROR_BURST, START, oncall

pytestmark = pytest.mark.integration

IN_BURST = ERROR_BURST[0] + timedelta(minutes=45)
BEFORE_BURST = ERROR_BURST[0] - timedelta(hours=2)
RATIO_1H = (
    'sum by (instance) (rate(http_requests_total{code=~"5.."}[1h])) '
    "/ sum by (instance) (rate(http_requests_total[1h]))"
)


def _epoch(value: datetime) -> float:
    return (value - datetime(1970, 1, 1)).total_seconds()


def _instant(backfilled, expr: str, time: str) -> list[dict]:
    response = httpx.get(
        backfilled.prometheus.url + "/api/v1/query", params={"query": expr, "time": time}, timeout=60
    )
    body = response.json()
    assert body["status"] == "success", body
    return body["data"]["result"]


def _status(backfilled, at: str) -> dict[str, dict]:
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        assert oncall("-w", str(backfilled.workspace), "slo", "--format", "json", "--at", at) == 0
    rows = json.loads(out.getvalue())
    return {
        r["group"].get("instance", "") if r["group"] else r["slo"]: r
        for r in rows
        if r["slo"] == "checkout-availability"
    }


@pytest.mark.parametrize(
    "form",
    [
        str(int(_epoch(IN_BURST))),
        f"{_epoch(IN_BURST) + 0.5}",
        f"{_epoch(IN_BURST) / 1e9!r}e9",
        IN_BURST.isoformat() + "Z",
        (IN_BURST + timedelta(hours=1)).isoformat() + "+01:00",
        (IN_BURST - timedelta(hours=5, minutes=30)).isoformat() + "-05:30",
    ],
)
def test_the_forms_prometheus_accepts_name_the_same_instant(backfilled, form):
    response = httpx.get(
        backfilled.prometheus.url + "/api/v1/query", params={"query": "time()", "time": form}, timeout=60
    )
    body = response.json()
    assert body["status"] == "success" and body["data"]["resultType"] == "scalar", body
    theirs = float(body["data"]["result"][1])  # the instant Prometheus evaluated at
    assert _epoch(parse_time(form, datetime(2000, 1, 1))) == pytest.approx(theirs, abs=1e-3)


@pytest.mark.parametrize("at", [IN_BURST, BEFORE_BURST])
def test_error_ratio_as_of_a_past_time_equals_prometheus_at_that_time(backfilled, at):
    ours = _status(backfilled, at.isoformat() + "Z")
    theirs = {
        s["metric"]["instance"]: float(s["value"][1]) for s in _instant(backfilled, RATIO_1H, str(_epoch(at)))
    }
    assert set(ours) == set(theirs) == {"a", "b"}
    for instance, ratio in theirs.items():
        assert ours[instance]["now"] == at.isoformat() + "Z"
        assert ours[instance]["windows"]["1h"]["error_ratio"] == pytest.approx(ratio, rel=1e-9, abs=1e-12)
    burning = ours["a"]["windows"]["1h"]["burn"] > 14.4
    assert burning == (at == IN_BURST)


@pytest.mark.parametrize(
    "at", [START + timedelta(days=60), START - timedelta(days=1)]
)  # past the 30d window too
def test_past_the_data_or_before_it_both_answer_with_nothing(backfilled, at):
    assert _instant(backfilled, RATIO_1H, str(_epoch(at))) == []
    ours = _status(backfilled, at.isoformat() + "Z")
    assert {r["state"] for r in ours.values()} == {"no data"}
    assert all(
        r["now"] == at.isoformat() + "Z" and r["windows"]["1h"]["error_ratio"] is None for r in ours.values()
    )
