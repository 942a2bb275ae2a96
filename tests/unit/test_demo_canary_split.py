"""The demo's canary rollout (issue #20, item 5): with a canary alias, CI points it at v4, which
serves about a fifth of the requests beside champion v3, every live series labelled with its
version; pointing the alias back at v3 ends the split from that step on."""

from __future__ import annotations

import json
from datetime import datetime, timedelta

from collectors.demo import MODEL, DemoCollector, DemoOptions, seed_demo
from console.registry.history import record_alias_move
from console.registry.local import LocalOptions, LocalRegistry
from console.store import Store

NOW = datetime(2026, 11, 20, 12, 0)


def requests_by_version(store: Store, start: datetime, end: datetime) -> dict[str, float]:
    rows = store.query(
        """
        SELECT s.labels, max(x.value) - min(x.value) FROM samples x JOIN series s ON s.id = x.series_id
        WHERE s.name = 'http_request_duration_seconds_count' AND x.ts BETWEEN ? AND ? GROUP BY 1""",
        [start, end],
    )[1]
    return {json.loads(labels).get("version", ""): float(n) for labels, n in rows}


def test_the_canary_serves_a_fifth_of_the_requests_until_its_alias_goes_back(tmp_path) -> None:
    with Store.open(tmp_path / "oncall.duckdb") as store:
        seed_demo(store, now=NOW, days=0.05, canary_alias="canary")
        collector = DemoCollector("demo", DemoOptions(canary_alias="canary"))
        first = collector.collect(store, NOW + timedelta(minutes=10)).detail
        assert first == {"serving": "3", "degraded": False, "canary": "4", "canary_degraded": True}
        registry = LocalRegistry("local", LocalOptions(), store=store, clock=lambda: NOW)
        assert registry.resolve_alias(MODEL, "champion").version == "3"  # champion untouched
        assert registry.resolve_alias(MODEL, "canary").version == "4"
        served = requests_by_version(store, NOW + timedelta(seconds=15), NOW + timedelta(minutes=10))
        assert set(served) == {"3", "4"}  # the history's series (no version label) ended at NOW
        share = served["4"] / (served["3"] + served["4"])
        assert 0.17 < share < 0.23, share
        errors = store.query(
            """
            SELECT json_extract_string(s.labels, '$.version'), max(x.value) - min(x.value)
            FROM samples x JOIN series s ON s.id = x.series_id
            WHERE s.name = 'http_requests_total' AND json_extract_string(s.labels, '$.code') = '500'
              AND x.ts > ? GROUP BY 1 ORDER BY 1""",
            [NOW + timedelta(minutes=2)],
        )[1]
        assert errors[1][1] > 10 * errors[0][1]  # v4 degraded, v3 not

        back = NOW + timedelta(minutes=12)
        registry = LocalRegistry("local", LocalOptions(), store=store, clock=lambda: back)
        registry.set_alias(MODEL, "canary", "3")
        with store.transaction() as cur:
            record_alias_move(
                cur, ts=back, model=MODEL, alias="canary", from_version="4", to_version="3",
                actor="test", source="test",
            )  # fmt: skip
        after = collector.collect(store, NOW + timedelta(minutes=20)).detail
        assert after == {"serving": "3", "degraded": False, "canary": None, "canary_degraded": False}
        tail = requests_by_version(store, back + timedelta(seconds=15), NOW + timedelta(minutes=20))
        assert set(tail) == {"3"}
        versions = store.query(
            "SELECT version, min(ts), max(ts) FROM predictions WHERE ts > ? GROUP BY 1 ORDER BY 1", [NOW]
        )[1]
        assert [v for v, _, _ in versions] == ["3", "4"] and versions[1][2] <= back
