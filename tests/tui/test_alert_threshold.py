"""The alert detail's chart draws the threshold of the threshold-form rule that raised it."""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from pathlib import Path

from settle import settled

from console.store import Store
from console.tui.app import OncallApp
from console.tui.screens.detail import AlertDetailScreen
from console.tui.widgets.chart import TimeChart

NOW = datetime(2026, 11, 20, 12, 0)
RULES = """\
groups:
  - name: api
    rules:
      - alert: ErrorsHigh
        expr: {series: 'http_requests_total{code="500"}', fn: rate, over: 5m, op: '>', value: 0.25}
"""


def add_alert(workspace: Path, fingerprint: str, rule: str) -> None:
    with Store.open(workspace / "oncall.duckdb") as store, store.transaction() as cur:
        start = NOW - timedelta(minutes=10)
        cur.execute(
            """INSERT INTO alerts (fingerprint, source, rule, name, labels, annotations,
                       state, active_since, fired_at, last_eval, value)
                       VALUES (?, 'rule', ?, 'ErrorsHigh', ?, '{}', 'firing', ?, ?, ?, 0.4)""",
            [fingerprint, rule, json.dumps({"alertname": "ErrorsHigh"}), start, start, NOW],
        )
        cur.execute(
            "INSERT INTO alert_history (fingerprint, ts, from_state, to_state, value) VALUES "
            "(?, ?, 'inactive', 'pending', 0.3), (?, ?, 'pending', 'firing', 0.4)",
            [fingerprint, start, fingerprint, start + timedelta(minutes=5)],
        )


async def chart_of(app: OncallApp, pilot, fingerprint: str) -> TimeChart:
    app.push_screen(AlertDetailScreen(app.session, fingerprint))
    await settled(pilot)
    return app.screen.query_one("#alert-values", TimeChart)


async def test_the_rules_threshold_is_drawn_with_the_values(workspace: Path, session_for) -> None:
    (workspace / "rules").mkdir()
    (workspace / "rules" / "api.yaml").write_text(RULES)
    config = workspace / "oncall.yaml"
    config.write_text(config.read_text() + "rules: [rules/*.yaml]\n")
    add_alert(workspace, "e1", "api/ErrorsHigh")
    add_alert(workspace, "e2", "api/Removed")
    app = OncallApp(session_for(workspace), refresh_seconds=0)
    async with app.run_test(size=(120, 40)) as pilot:
        await settled(pilot)
        chart = await chart_of(app, pilot, "e1")
        assert [(t.value, t.label) for t in chart.thresholds] == [(0.25, "threshold > 0.25")]
        assert "threshold > 0.25" in chart.render().plain  # type: ignore[union-attr]
        await pilot.press("escape")
        chart = await chart_of(app, pilot, "e2")  # its rule is no longer loaded: no line
        assert chart.thresholds == [] and chart.series
