"""The Canary view and the incident screen's canary line (issue #20, item 4), over the demo's
canary rollout judged for real: v4 on a fifth of the traffic, degraded for five minutes."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path

import pytest
from settle import settled
from textual.widgets import DataTable, Static

from collectors.demo import DemoCollector, DemoOptions
from console.cli.commands.demo import prepare
from console.config.workspace import load_workspace
from console.incidents import lifecycle
from console.runtime.canaries import Failure, judge_in_console
from console.runtime.session import Session
from console.store import Store
from console.tui.app import OncallApp
from console.tui.screens.incident import IncidentScreen
from console.tui.widgets.chart import TimeChart

NOW = datetime(2026, 11, 20, 12, 0)
START = NOW - timedelta(minutes=6)  # CI deploys the canary 15 s in; it degrades 75 s in
SIZE = (120, 40)


def judged_demo(root: Path) -> Path:
    """The demo rolled out to NOW and its canary judged at NOW in dry run (the rollback planned)."""
    ws = prepare(root, now=START, days=0.05, seed=7)
    source = next(s for s in ws.config.sources if s.kind == "demo")
    with Store.open(ws.store_path) as store:
        DemoCollector(source.name, DemoOptions.model_validate(source.options)).collect(store, NOW)
        [spec] = _specs(ws, store)
        run = judge_in_console(ws, store, spec, NOW, dry_run=True)
        assert run.analysis.verdict == "fail", run.analysis.reason
    return root


def _specs(ws, store):
    from console.runtime.lastgood import load_config

    return load_config(ws, store, NOW).canaries


@pytest.fixture(scope="module")
def judged_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return judged_demo(tmp_path_factory.mktemp("canary-demo"))


@pytest.fixture
def session(judged_template: Path, tmp_path: Path):
    import shutil

    root = tmp_path / "demo"
    shutil.copytree(judged_template, root)
    opened = Session(load_workspace(root / "oncall.yaml"), clock=lambda: NOW, run_engine=False, listen=False)
    yield opened
    opened.close()


def rows(app) -> list[list[str]]:
    table = app.query_one("#canary-table", DataTable)
    return [[str(c) for c in table.get_row_at(i)] for i in range(table.row_count)]


def text_of(root, selector: str) -> str:
    return root.query_one(selector, Static).render().plain


async def open_canary_view(pilot) -> None:
    await settled(pilot)
    await pilot.press("colon", *"canary", "enter")
    await settled(pilot)


async def test_the_canary_view_shows_each_metric_and_both_groups_values(session) -> None:
    app = OncallApp(session, refresh_seconds=0)
    async with app.run_test(size=SIZE) as pilot:
        await open_canary_view(pilot)
        assert app.view.view_name == "canary"
        status = text_of(app, "#canary-status")
        assert status.startswith(
            "fraud-v4 · fraud-detector · canary vs champion · on_fail rollback · fail 0.00 v4 vs v3"
        )
        assert "fail: critical metric latency_p99 is High" in status
        assert "rollback dry-run: dry run: would roll back fraud-detector: canary v4 → v3" in status
        latency, errors = rows(app)
        assert latency[:3] == ["fraud-v4", "latency_p99 (critical)", "High"]
        assert errors[:3] == ["fraud-v4", "error_ratio", "High"]
        assert "increase is bad → High" in latency[3]
        chart = app.query_one("#canary-chart", TimeChart)
        by_name = {s.name: s.points for s in chart.series}
        assert set(by_name) == {"v3 baseline", "v4 canary"}
        baseline, canary = by_name["v3 baseline"], by_name["v4 canary"]
        assert len(baseline) >= 20 and len(canary) >= 20  # one value every 15 s since the deploy
        assert max(v for _, v in canary) > 5 * max(v for _, v in baseline)  # p99 of the degraded v4
        assert "fraud-v4 · latency_p99 over 30m to 12:00:00, one value every 15s" in text_of(
            app, "#canary-chart-title"
        )

        await pilot.press("down")  # the error ratio's values
        await settled(pilot)
        assert "error_ratio" in text_of(app, "#canary-chart-title")


async def test_a_failing_judgement_is_shown_in_the_view(session, monkeypatch) -> None:
    failure = Failure(NOW, "ConnectionError: registry unreachable")
    monkeypatch.setattr(session, "canary_failures", lambda: {"fraud-v4": failure})
    app = OncallApp(session, refresh_seconds=0)
    async with app.run_test(size=SIZE) as pilot:
        await open_canary_view(pilot)
        assert "judgement failed: ConnectionError: registry unreachable" in text_of(app, "#canary-status")


async def test_a_canary_not_judged_now_says_why(session, monkeypatch) -> None:
    why = "canary and champion both name v3 of fraud-detector: nothing to judge"
    monkeypatch.setattr(session, "canary_skipped", lambda: {"fraud-v4": why})
    app = OncallApp(session, refresh_seconds=0)
    async with app.run_test(size=SIZE) as pilot:
        await open_canary_view(pilot)
        assert f"not judged now: {why}" in text_of(app, "#canary-status")
        assert [r[2] for r in rows(app)] == ["High", "High"]  # the latest analysis still shows


async def test_without_canaries_the_view_says_how_to_add_one(session) -> None:
    path = session.workspace.path
    path.write_text(path.read_text().replace("canaries: [canaries/*.yaml]\n", ""))
    plain = Session(load_workspace(path), clock=lambda: NOW, run_engine=False, listen=False)
    try:
        app = OncallApp(plain, refresh_seconds=0)
        async with app.run_test(size=SIZE) as pilot:
            await open_canary_view(pilot)
            assert text_of(app, "#canary-status").startswith("no canaries: add `canaries: [canaries/*.yaml]`")
            assert rows(app) == []
    finally:
        plain.close()


def page_incident(session) -> int:
    labels = {"alertname": "SLOErrorBudgetBurn", "model": "fraud-detector", "slo": "fraud-scoring-latency"}
    incident = lifecycle.declare(
        session.store,
        "SLOErrorBudgetBurn: fraud-scoring-latency",
        now=NOW,
        actor="alice",
        detail={"alert": {"name": "SLOErrorBudgetBurn", "labels": labels, "annotations": {}}},
    )
    return incident.id


async def test_the_incident_screen_shows_the_latest_analysis_of_its_models_canaries(session) -> None:
    incident_id = page_incident(session)
    app = OncallApp(session, refresh_seconds=0)
    async with app.run_test(size=SIZE) as pilot:
        await settled(pilot)
        app.push_screen(IncidentScreen(session, incident_id))
        await settled(pilot)
        line = text_of(app.screen, "#inc-canary")
        assert line.startswith("canary fraud-v4: fail 0.00 (latency_p99 +")
        assert "increase is bad → High" in line and " v4 vs v3 · rollback dry-run: " in line


async def test_an_incident_of_another_model_has_no_canary_line(session) -> None:
    incident = lifecycle.declare(session.store, "other", now=NOW, actor="alice", detail={})
    app = OncallApp(session, refresh_seconds=0)
    async with app.run_test(size=SIZE) as pilot:
        await settled(pilot)
        app.push_screen(IncidentScreen(session, incident.id))
        await settled(pilot)
        assert not app.screen.query_one("#inc-canary", Static).display


def test_canary_view_snapshot(session, snap_compare) -> None:
    app = OncallApp(session, refresh_seconds=0)
    assert snap_compare(app, terminal_size=SIZE, run_before=open_canary_view)


def test_incident_screen_canary_line_snapshot(session, snap_compare) -> None:
    incident_id = page_incident(session)
    app = OncallApp(session, refresh_seconds=0)

    async def run_before(pilot) -> None:
        await settled(pilot)
        app.push_screen(IncidentScreen(session, incident_id))
        await settled(pilot)

    assert snap_compare(app, terminal_size=SIZE, run_before=run_before)


async def test_the_console_tells_of_a_failed_canary_and_of_a_judgement_that_raised(
    session, monkeypatch
) -> None:
    from console.incidents.events import Event

    said = [
        Event(NOW, "canary", "canary fraud-v4: fail 0.00 (latency_p99 +823.3% …) v4 vs v3"),
        Event(NOW, "canary", "canary other: judgement failed: ConnectionError: registry unreachable"),
    ]
    monkeypatch.setattr(session, "tick", lambda: said)
    app = OncallApp(session, refresh_seconds=0)
    async with app.run_test(size=SIZE) as pilot:
        await settled(pilot)
        await pilot.press("r")  # a refresh runs the engine's tick
        await settled(pilot)
        toasts = [(n.severity, n.message) for n in app._notifications]
        assert ("warning", said[0].text) in toasts
        assert ("warning", said[1].text) in toasts
