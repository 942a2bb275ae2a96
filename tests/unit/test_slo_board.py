"""The Overview's SLO board: burns beside thresholds, state from the alert engine, exhaustion."""

import json
from datetime import timedelta

import pytest

from console.screens.overview import fmt_budget, fmt_burns, slo_board
from console.store import Store
from tests.unit.test_slo import NOW, feed, ratio_slo


@pytest.fixture()
def store(tmp_path):
    with Store.open(tmp_path / "s.duckdb") as store:
        yield store


def put_alert(store, severity, state):
    with store.transaction() as cur:
        cur.execute(
            "INSERT INTO alerts (fingerprint, source, rule, name, labels, state) VALUES (?, 'slo', 'r', ?, ?, ?)",
            [
                f"fp-{severity}",
                "SLOErrorBudgetBurn",
                json.dumps({"slo": "avail", "severity": severity}),
                state,
            ],
        )


def burning(store):
    feed(store, 31, 1000, lambda ts: [500 if t > NOW - timedelta(days=2) else 0 for t in ts])


def test_board_shows_5m_1h_6h_burn_beside_the_page_thresholds(store):
    burning(store)
    (row,) = slo_board(store, [ratio_slo()], NOW)
    assert (row.page_1h, row.page_6h) == (14.4, 6)
    assert fmt_burns(row) == "5m 500× 1h 500× /14.4 · 6h 500× /6"


def test_condition_held_without_a_firing_alert_reads_pending_not_page(store):
    burning(store)
    assert slo_board(store, [ratio_slo()], NOW)[0].state == "pending"
    put_alert(store, "page", "pending")
    assert slo_board(store, [ratio_slo()], NOW)[0].state == "pending"


def test_page_only_while_the_page_alert_fires(store):
    burning(store)
    put_alert(store, "ticket", "firing")
    assert slo_board(store, [ratio_slo()], NOW)[0].state == "ticket"
    put_alert(store, "page", "firing")
    assert slo_board(store, [ratio_slo()], NOW)[0].state == "page"


def test_after_healing_the_exhaustion_is_not_at_risk(store):
    # Burning hard until 40 minutes ago, healthy since: the 1h burn is still high.
    feed(
        store,
        31,
        1000,
        lambda ts: [
            300 if NOW - timedelta(minutes=100) < t <= NOW - timedelta(minutes=40) else 0 for t in ts
        ],
    )
    (row,) = slo_board(store, [ratio_slo()], NOW)
    assert row.burn_1h > 14.4 and row.burn_5m == 0
    assert row.time_to_exhaustion is None
    # The page conditions no longer hold (5m and 30m are clean); the ticket's 1d/2h still does.
    assert row.state == "pending"


def test_budget_says_how_much_of_the_window_the_data_covers(store):
    feed(store, 7, 1000, lambda ts: [0 for t in ts])
    (row,) = slo_board(store, [ratio_slo()], NOW)
    assert fmt_budget(row) == "100% 7d/30d"


def test_budget_over_the_whole_window_shows_the_bar(store):
    feed(store, 31, 1000, lambda ts: [0 for t in ts])
    (row,) = slo_board(store, [ratio_slo()], NOW)
    assert row.coverage is None and fmt_budget(row) == "██████ 100%"
