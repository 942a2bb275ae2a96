"""Stale markers from real scrapes of a local exporter: a series that leaves the page, a
target whose scrape fails, a target removed from the configuration; rules stop matching."""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from pathlib import Path

import pytest

from collectors.base import SourceError
from collectors.scrape import ScrapeCollector, ScrapeOptions
from collectors.staleness import mark_removed_targets
from console.alerts.persistence import load_alerts
from console.alerts.state import AlertEngine
from console.rules.evaluation import evaluate
from console.rules.model import Rule, Threshold
from console.store import Store
from tests.local_http import serve

pytestmark = pytest.mark.integration

T0 = datetime(2026, 3, 1, 12, 0)
M = timedelta(minutes=1)
TEXT = "text/plain; version=0.0.4"


class Exporter:
    """A /metrics page the test rewrites between scrapes; `status` other than 200 fails it."""

    def __init__(self) -> None:
        self.page = ""
        self.status = 200

    def __call__(self, path: str) -> tuple[int, bytes, str]:
        if self.status != 200:
            return self.status, b"down for maintenance\n", "text/plain"
        return 200, self.page.encode(), TEXT


@pytest.fixture
def exporter():
    page = Exporter()
    with serve(page) as url:
        yield page, url


@pytest.fixture
def store(tmp_path: Path):
    with Store.open(tmp_path / "store.duckdb") as opened:
        yield opened


def rows_at(store: Store, ts: datetime) -> dict[tuple[str, str], float | None]:
    """(name, queue label or '') -> value of every sample stored at `ts`."""
    _, rows = store.query(
        "SELECT s.name, s.labels, x.value FROM samples x JOIN series s ON s.id = x.series_id WHERE x.ts = ?",
        [ts],
    )
    return {(name, json.loads(labels).get("queue", "")): value for name, labels, value in rows}


def queues(store: Store, now: datetime, rule: Rule) -> list[str]:
    """The queues a rule matches at `now`, batched and one by one (the same answer)."""
    found = []
    for batched in (True, False):
        (result,) = evaluate(store, [rule], now, batched=batched)
        assert result.error is None
        found.append(sorted(i.labels.get("queue", "") for i in result.instances))
    assert found[0] == found[1]
    return found[0]


BACKLOG = Rule("Backlog", Threshold("jobs_waiting", "last", 5 * M, ">", 0), group="g")
SQL_BACKLOG = Rule("Present", "SELECT * FROM {{ last('jobs_waiting', '5m') }}", group="g")


def test_a_series_that_leaves_the_page_gets_a_stale_marker_and_its_alert_resolves(exporter, store):
    page, url = exporter
    collector = ScrapeCollector("queue", ScrapeOptions(url=url + "/metrics"))
    engine = AlertEngine(store, [BACKLOG])
    page.page = 'jobs_waiting{queue="a"} 3\njobs_waiting{queue="b"} 5\n'
    collector.collect(store, T0)
    engine.run(T0)
    assert queues(store, T0, BACKLOG) == ["a", "b"]
    assert {a.labels["queue"]: a.state for a in load_alerts(store)} == {"a": "firing", "b": "firing"}

    page.page = 'jobs_waiting{queue="a"} 4\n'
    result = collector.collect(store, T0 + M)
    assert result.detail["stale"] == 1
    # the marker: b's row at the scrape's time holds no value; a's holds its new value
    at = rows_at(store, T0 + M)
    assert at[("jobs_waiting", "b")] is None and at[("jobs_waiting", "a")] == 4.0
    # b's sample of a minute ago is inside the 5m window, yet b is gone at the next evaluation
    assert queues(store, T0 + M, BACKLOG) == ["a"]
    assert queues(store, T0 + M, SQL_BACKLOG) == ["a"]
    engine.run(T0 + M)
    assert {a.labels["queue"]: a.state for a in load_alerts(store)} == {"a": "firing", "b": "resolved"}

    # b comes back: a value again, and the marker was no counter reset
    page.page = 'jobs_waiting{queue="a"} 4\njobs_waiting{queue="b"} 9\n'
    assert collector.collect(store, T0 + 2 * M).detail["stale"] == 0
    assert queues(store, T0 + 2 * M, BACKLOG) == ["a", "b"]
    increase = Rule("Grew", Threshold('jobs_waiting{queue="b"}', "increase", 5 * M, ">=", 0, []))
    (grew,) = evaluate(store, [increase], T0 + 2 * M)
    # 5 -> (stale) -> 9 over 2 minutes: 4, extrapolated to the 5m window as the helper does
    assert [round(i.value, 6) for i in grew.instances] == [round(4 / 120 * 300, 6)]


def test_a_failed_scrape_marks_every_series_of_the_target_once(exporter, store):
    page, url = exporter
    collector = ScrapeCollector("queue", ScrapeOptions(url=url + "/metrics"))
    page.page = 'jobs_waiting{queue="a"} 3\njobs_waiting{queue="b"} 5\n'
    collector.collect(store, T0)
    page.status = 503
    with pytest.raises(SourceError):
        collector.collect(store, T0 + M)
    at = rows_at(store, T0 + M)
    assert at[("jobs_waiting", "a")] is None and at[("jobs_waiting", "b")] is None
    assert at[("scrape_samples_scraped", "")] is None  # a failed scrape has no sample count
    assert at[("up", "")] == 0.0  # up is written, not marked
    assert queues(store, T0 + M, BACKLOG) == []
    # still failing: the series ended already, no second marker
    with pytest.raises(SourceError):
        collector.collect(store, T0 + 2 * M)
    assert set(rows_at(store, T0 + 2 * M)) == {("up", ""), ("scrape_duration_seconds", "")}


def test_a_target_removed_from_the_configuration_ends_all_its_series(exporter, store):
    page, url = exporter
    ScrapeCollector("queue", ScrapeOptions(url=url + "/metrics")).collect(store, T0)  # empty page
    page.page = 'jobs_waiting{queue="a"} 3\n'
    ScrapeCollector("queue", ScrapeOptions(url=url + "/metrics")).collect(store, T0 + M)
    # still configured: nothing to end
    assert mark_removed_targets(store, ["queue"], T0 + 2 * M) == 0
    assert mark_removed_targets(store, [], T0 + 2 * M) == 4  # jobs_waiting, up, duration, count
    at = rows_at(store, T0 + 2 * M)
    assert set(at) == {
        ("jobs_waiting", "a"),
        ("up", ""),
        ("scrape_duration_seconds", ""),
        ("scrape_samples_scraped", ""),
    }
    assert set(at.values()) == {None}
    assert queues(store, T0 + 2 * M, BACKLOG) == []
    assert mark_removed_targets(store, [], T0 + 3 * M) == 0


def test_the_console_ends_the_series_of_a_source_removed_from_oncall_yaml(exporter, tmp_path):
    from console.config.workspace import load_workspace
    from console.runtime.engine import Engine

    page, url = exporter
    page.page = 'jobs_waiting{queue="a"} 3\n'
    (tmp_path / "oncall.yaml").write_text(
        f"sources:\n  - {{name: queue, kind: scrape, url: '{url}/metrics'}}\n"
    )
    with Store.open(tmp_path / "oncall.duckdb") as store:
        Engine(load_workspace(tmp_path / "oncall.yaml"), store).tick(T0)
        assert rows_at(store, T0)[("jobs_waiting", "a")] == 3.0
    (tmp_path / "oncall.yaml").write_text("sources: []\n")  # the source is gone; the console restarts
    with Store.open(tmp_path / "oncall.duckdb") as store:
        report = Engine(load_workspace(tmp_path / "oncall.yaml"), store).tick(T0 + M)
        assert "4 series of removed scrape targets ended" in [e.text for e in report.events]
        assert rows_at(store, T0 + M)[("jobs_waiting", "a")] is None
        assert queues(store, T0 + M, BACKLOG) == []
