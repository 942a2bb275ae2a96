"""The demo's story starts with a deploy (issue 17, item 2): seconds in, CI registers v4 and
moves `champion` to it, recorded as `ci-deployer`'s alias move; a minute later v4 degrades."""

from __future__ import annotations

from datetime import datetime, timedelta

from collectors.demo import MODEL, DemoCollector, DemoOptions, deploy_demo_version, seed_demo
from console.registry.local import LocalOptions, LocalRegistry
from console.store import Store

NOW = datetime(2026, 11, 20, 12, 0)


def champion(store: Store) -> str:
    registry = LocalRegistry("local", LocalOptions(), store=store, clock=lambda: NOW)
    return registry.resolve_alias(MODEL, "champion").version


def moves(store: Store) -> list[tuple]:
    return store.query(
        "SELECT ts, json_extract_string(detail, '$.from_version'), version, actor FROM changes "
        "WHERE kind = 'alias_move' AND ts > ? ORDER BY ts",
        [NOW - timedelta(hours=1)],
    )[1]


def test_ci_deploys_v4_fifteen_seconds_in_and_it_degrades_a_minute_later(tmp_path) -> None:
    with Store.open(tmp_path / "oncall.duckdb") as store:
        seed_demo(store, now=NOW, days=0.05)
        collector = DemoCollector("demo", DemoOptions())
        collector.collect(store, NOW + timedelta(seconds=10))  # no new step yet
        assert champion(store) == "3" and moves(store) == []
        assert collector.collect(store, NOW + timedelta(seconds=30)).detail == {
            "serving": "4",
            "degraded": False,
        }
        assert champion(store) == "4"
        assert moves(store) == [(NOW + timedelta(seconds=15), "3", "4", "ci-deployer")]
        registry = LocalRegistry("local", LocalOptions(), store=store, clock=lambda: NOW)
        v4 = registry.get_version(MODEL, "4")
        assert v4.created_at < NOW and v4.metrics == {"auc": 0.941}
        assert collector.collect(store, NOW + timedelta(seconds=70)).detail["degraded"] is False
        assert collector.collect(store, NOW + timedelta(minutes=2)).detail == {
            "serving": "4",
            "degraded": True,
        }
        # a restarted demo (a new collector on the same store) deploys nothing twice
        DemoCollector("demo", DemoOptions()).collect(store, NOW + timedelta(minutes=3))
        assert not deploy_demo_version(store, "local", MODEL, at=NOW + timedelta(minutes=3))
        assert len(moves(store)) == 1


def test_the_demo_key_deploys_and_degrades_at_once(tmp_path) -> None:
    with Store.open(tmp_path / "oncall.duckdb") as store:
        seed_demo(store, now=NOW, days=0.05, deploy_after="10m", degrade_after="20m")
        collector = DemoCollector("demo", DemoOptions())
        collector.trigger(NOW + timedelta(seconds=5))
        assert collector.collect(store, NOW + timedelta(seconds=30)).detail == {
            "serving": "4",
            "degraded": True,
        }
        assert moves(store)[0][0] == NOW + timedelta(seconds=5)


def test_without_a_deploy_the_serving_v3_degrades_as_before(tmp_path) -> None:
    with Store.open(tmp_path / "oncall.duckdb") as store:
        seed_demo(store, now=NOW, days=0.05, deploy_after=None, degrade_after="1m")
        collector = DemoCollector("demo", DemoOptions())
        assert collector.collect(store, NOW + timedelta(minutes=2)).detail == {
            "serving": "3",
            "degraded": True,
        }
        assert moves(store) == [] and champion(store) == "3"
