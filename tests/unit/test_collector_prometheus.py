"""The prometheus collector's requests: range splitting, cursor, auth from env, TLS default."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path

import httpx
import pytest

from collectors.base import SourceError
from collectors.http import HttpOptions, make_client
from collectors.prometheus import PrometheusCollector, PrometheusOptions, split_range
from console.store import Store

NOW = datetime(2026, 11, 26, 12, 0, 30)
NOW_S = 1795694430  # NOW as seconds since the epoch (on the 30 s grid)


@pytest.fixture
def store(tmp_path: Path) -> Store:
    with Store.open(tmp_path / "store.duckdb") as opened:
        yield opened


class FakePrometheus:
    """Answers query_range with one point per step, value = timestamp; records requests."""

    def __init__(self) -> None:
        self.requests: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        q = request.url.params
        start, end, step = float(q["start"]), float(q["end"]), float(q["step"])
        values, t = [], start
        while t <= end:
            values.append([t, str(t)])
            t += step
        metric = {"job": "api"} if q["query"].startswith("sum") else {"__name__": "up", "job": "api"}
        return httpx.Response(
            200,
            json={
                "status": "success",
                "data": {"resultType": "matrix", "result": [{"metric": metric, "values": values}]},
            },
        )


def collector(fake: FakePrometheus, **options) -> PrometheusCollector:
    opts = PrometheusOptions(**{"url": "https://prom.test/", "queries": ["up"], **options})
    c = PrometheusCollector("prom", opts)
    c.transport = httpx.MockTransport(fake)
    return c


def test_split_range_respects_the_points_limit() -> None:
    assert split_range(0, 100, 10, 11) == [(0, 100)]
    assert split_range(0, 100, 10, 5) == [(0, 40), (50, 90), (100, 100)]
    pieces = split_range(0, 86_400, 1, 11_000)
    assert all((hi - lo) / 1 + 1 <= 11_000 for lo, hi in pieces)
    assert pieces[0][0] == 0 and pieces[-1][1] == 86_400 and len(pieces) == 8


def test_first_run_backfills_the_lookback_then_only_new_steps(store: Store) -> None:
    fake = FakePrometheus()
    c = collector(fake, step="30s", lookback="1h", max_points=50)
    assert c.collect(store, NOW).rows == 121  # 1 h at 30 s, both ends
    assert len(fake.requests) == 3  # 121 points, 50 per request
    first = fake.requests[0].url.params
    assert float(first["start"]) == NOW_S - 3600 and first["step"] == "30.0"
    assert c.collect(store, NOW + timedelta(seconds=65)).rows == 2
    assert float(fake.requests[-1].url.params["start"]) == NOW_S + 30
    assert c.collect(store, NOW + timedelta(seconds=65)).rows == 0
    values = store.query("SELECT min(value), max(value), count(*) FROM samples")[1][0]
    assert values == (NOW_S - 3600, NOW_S + 60, 123)


def test_results_without_a_metric_name_take_the_record_name(store: Store) -> None:
    fake = FakePrometheus()
    c = collector(fake, lookback="2m", queries=[{"expr": "sum(rate(x[5m]))", "record": "x:rate5m"}])
    c.collect(store, NOW)
    assert store.query("SELECT DISTINCT name, labels FROM series")[1] == [("x:rate5m", '{"job":"api"}')]


def test_bearer_and_basic_auth_come_from_the_environment(monkeypatch) -> None:
    monkeypatch.setenv("PROM_TOKEN", "s3cret")
    seen: list[httpx.Request] = []
    transport = httpx.MockTransport(lambda r: seen.append(r) or httpx.Response(200))
    with make_client(HttpOptions(url="https://x", bearer_token_env="PROM_TOKEN"), transport) as c:
        c.get("https://x/")
    assert seen[-1].headers["Authorization"] == "Bearer s3cret"
    monkeypatch.setenv("PROM_USER", "oncall")
    monkeypatch.setenv("PROM_PASS", "pw")
    with make_client(
        HttpOptions(url="https://x", username_env="PROM_USER", password_env="PROM_PASS"), transport
    ) as c:
        c.get("https://x/")
    assert seen[-1].headers["Authorization"] == "Basic b25jYWxsOnB3"


def test_a_missing_secret_is_a_readable_error(monkeypatch) -> None:
    monkeypatch.delenv("NO_SUCH_TOKEN", raising=False)
    with pytest.raises(SourceError, match=r"NO_SUCH_TOKEN .* is not set"):
        make_client(HttpOptions(url="https://x", bearer_token_env="NO_SUCH_TOKEN"))


def test_tls_is_verified_unless_turned_off(tmp_path: Path) -> None:
    assert HttpOptions(url="https://x").tls_verify is True
    with make_client(HttpOptions(url="https://x")) as client:
        context = client._transport._pool._ssl_context
        assert context.verify_mode.name == "CERT_REQUIRED"
    with make_client(HttpOptions(url="https://x", tls_verify=False)) as client:
        assert client._transport._pool._ssl_context.verify_mode.name == "CERT_NONE"


def test_options_are_validated() -> None:
    with pytest.raises(Exception, match="max_points"):
        PrometheusOptions(url="http://x", queries=["up"], max_points=20_000)
    with pytest.raises(Exception, match="queries"):
        PrometheusOptions(url="http://x", queries=[])


def test_delay_keeps_the_range_behind_now(store: Store) -> None:
    fake = FakePrometheus()
    collector(fake, step="30s", lookback="5m", delay="1m").collect(store, NOW)
    assert float(fake.requests[0].url.params["end"]) == NOW_S - 60
