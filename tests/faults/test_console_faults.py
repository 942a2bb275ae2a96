"""The console always starts and never dies of a tick (issue 13, point 4), driven by Pilot."""

from __future__ import annotations

import argparse
import json
import shutil
import stat
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from textual.widgets import DataTable, Static

import console.screens.overview
from console.cli.commands.console import broken_store_app, broken_workspace_app
from console.cli.commands.demo import prepare
from console.cli.context import Context
from console.config.workspace import Workspace, WorkspaceError, ensure_state_dir, load_workspace
from console.runtime.session import Session
from console.store import Store, StoreError
from console.tui.app import OncallApp
from console.tui.widgets.banner import Banner

NOW = datetime(2026, 11, 20, 12, 0)
SIZE = (120, 40)


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A seeded demo workspace with one firing alert, copied for each test."""
    target = tmp_path_factory.mktemp("faults-console")
    prepare(target, now=NOW, days=1, seed=7)
    with Store.open(target / "oncall.duckdb") as store, store.transaction() as cur:
        labels = {"alertname": "FraudScoringLatency", "service": "fraud-scoring", "severity": "page"}
        since = NOW - timedelta(minutes=20)
        cur.execute(
            """INSERT INTO alerts (fingerprint, source, rule, name, labels, annotations,
                       state, active_since, fired_at, last_eval, value)
                       VALUES ('f1', 'rule', 'slo/latency', 'FraudScoringLatency', ?, '{}',
                               'firing', ?, ?, ?, 19.5)""",
            [json.dumps(labels), since, since, NOW],
        )
    return target


@pytest.fixture
def workspace(template: Path, tmp_path: Path) -> Path:
    target = tmp_path / "ws"
    shutil.copytree(template, target)
    return target


@pytest.fixture
def open_session():
    opened: list[Session] = []

    def open_(root: Path) -> Session:
        session = Session(
            load_workspace(root / "oncall.yaml"), clock=lambda: NOW, run_engine=False, listen=False
        )
        opened.append(session)
        return session

    yield open_
    for session in opened:
        session.close()


async def settle(pilot) -> None:
    for _ in range(2):
        await pilot.app.workers.wait_for_complete()
        await pilot.pause()


def rows(app, table_id: str) -> list[list[str]]:
    table = app.query_one(table_id, DataTable)
    return [[str(c) for c in table.get_row_at(i)] for i in range(table.row_count)]


def notes(app) -> list[tuple[str, str]]:
    return [(n.severity, n.message) for n in app._notifications]


def read_error(view) -> str:
    """The line a view shows when its data could not be read ("" when it is hidden)."""
    line = view.read_error
    return str(line.render()) if line is not None and line.display else ""


def banner(app) -> list[str]:
    widget = app.query_one("#banner", Banner)
    return str(widget.render()).splitlines() if widget.display else []


async def test_invalid_slo_file_opens_with_a_banner(workspace: Path, open_session) -> None:
    slo_file = workspace / "slos" / "fraud-scoring.yaml"
    slo_file.write_text(slo_file.read_text().replace("objective: 99.5", "objective: 99.5x"))
    app = OncallApp(open_session(workspace), refresh_seconds=0)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        assert app.is_running
        lines = banner(app)
        assert len(lines) == 1 and lines[0].startswith("slos/fraud-scoring.yaml:4: ")
        assert lines[0].endswith(
            " — no last good version: nothing from it is in force, its alerts keep their state (stale)"
        )
        assert 1 <= app.query_one("#banner").region.height <= 2  # a long line wraps
        assert rows(app, "#slo-board") == []
        assert rows(app, "#overview-alerts")[0][:2] == ["firing", "FraudScoringLatency"]
        assert [c[0] for c in app.view.data["collectors"]] == ["demo"]
        await pilot.press("colon", *"alerts", "enter")  # every view keeps the banner
        await settle(pilot)
        assert app.view.view_name == "alerts" and banner(app) == lines


async def test_invalid_slo_file_keeps_its_last_good_version_on_the_board(
    workspace: Path, open_session
) -> None:
    session = Session(
        load_workspace(workspace / "oncall.yaml"), clock=lambda: NOW, run_engine=False, listen=False
    )
    good = [s.name for s in session.slos]  # loaded once: kept as the last good version
    session.close()
    slo_file = workspace / "slos" / "fraud-scoring.yaml"
    slo_file.write_text(slo_file.read_text().replace("objective: 99.5", "objective: 99.5x"))
    app = OncallApp(open_session(workspace), refresh_seconds=0)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        (line,) = banner(app)
        assert line.startswith("slos/fraud-scoring.yaml:4: slos[0].objective: ")
        assert line.endswith(" — last good version from 2026-11-20 12:00:00 UTC still in force")
        board = {row[0].split(" {")[0] for row in rows(app, "#slo-board")}
        assert good and board == set(good)


async def test_a_broken_playbook_is_named_in_the_banner(workspace: Path, open_session) -> None:
    (workspace / "playbooks").mkdir()
    (workspace / "playbooks" / "mine.yaml").write_text("id: mine\ntitle: [\n")
    config = workspace / "oncall.yaml"
    config.write_text(config.read_text() + "playbooks: [playbooks/]\n")
    app = OncallApp(open_session(workspace), refresh_seconds=0)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        assert app.is_running
        (line,) = banner(app)
        assert line.startswith("playbooks/mine.yaml:") and "bad YAML" in line


RULES = """groups:
  - name: g
    rules:
      - alert: ErrorsHigh
        expr: SELECT 'api' AS service, 2.0 AS value
"""


async def test_a_rules_file_typo_while_firing_resolves_nothing_in_the_console(tmp_path: Path) -> None:
    (tmp_path / "rules").mkdir()
    rule_file = tmp_path / "rules" / "app.yaml"
    rule_file.write_text(RULES)
    (tmp_path / "oncall.yaml").write_text("rules: [rules/*.yaml]\n")
    clock = [NOW]
    first = Session(load_workspace(tmp_path / "oncall.yaml"), clock=lambda: clock[0], listen=False)
    first.tick()
    first.close()
    with rule_file.open("a") as handle:
        handle.write("   - alert: Bad\n  expr: [\n")
    clock[0] = NOW + timedelta(minutes=5)
    session = Session(load_workspace(tmp_path / "oncall.yaml"), clock=lambda: clock[0], listen=False)
    app = OncallApp(session, refresh_seconds=0)
    try:
        async with app.run_test(size=SIZE) as pilot:
            await settle(pilot)
            await pilot.press("r")  # an engine cycle with the broken file
            await settle(pilot)
            assert app.is_running
            (line,) = banner(app)
            assert line.startswith("rules/app.yaml:") and "bad YAML" in line
            assert line.endswith("last good version from 2026-11-20 12:00:00 UTC still in force")
            shown = {r[1]: r[0] for r in rows(app, "#overview-alerts")}
            assert shown["ErrorsHigh"] == "firing"
            assert shown["OncallConfigInvalid"] == "firing"
        states = dict(session.store.query("SELECT name, state FROM alerts")[1])
        assert states["ErrorsHigh"] == "firing"
    finally:
        session.close()


async def test_healthy_workspace_has_no_banner(workspace: Path, open_session) -> None:
    app = OncallApp(open_session(workspace), refresh_seconds=0)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        assert banner(app) == [] and app.query_one("#banner").region.height == 0


async def test_invalid_oncall_yaml_still_opens(workspace: Path) -> None:
    config = workspace / "oncall.yaml"
    good = config.read_text()
    config.write_text(good.replace("interval: 15s", "interval: soon") + "  - not: [closed\n")
    with pytest.raises(WorkspaceError) as failed:
        load_workspace(config)
    ctx = Context(argparse.Namespace(workspace=str(workspace)))
    app = broken_workspace_app(ctx, failed.value)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        assert app.is_running
        lines = banner(app)
        assert lines and all(line.startswith("oncall.yaml:") for line in lines)
        hint = str(app.query_one("#broken-hint", Static).render())
        assert "press r to reload" in hint and "q quits" in hint
        await pilot.press("r")  # still broken: still open, still listed
        await settle(pilot)
        assert app.is_running and banner(app) == lines
        assert ("warning", f"oncall.yaml still does not load: {len(lines)} problem(s)") in notes(app)
        config.write_text(good)
        await pilot.press("r")
        await settle(pilot)
    assert isinstance(app.return_value, Workspace)  # run_console opens the console on it


async def test_a_store_that_does_not_open_still_opens(workspace: Path) -> None:
    store = workspace / "oncall.duckdb"
    store.rename(workspace / "good.duckdb")
    store.write_text("garbage")
    ws = load_workspace(workspace / "oncall.yaml")
    with pytest.raises(StoreError) as failed:
        Session(ws, clock=lambda: NOW, listen=False)
    ctx = Context(argparse.Namespace(workspace=str(workspace)), clock=lambda: NOW)
    app = broken_store_app(ctx, ws, failed.value)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        assert app.is_running
        lines = banner(app)
        assert lines[0].startswith(f"cannot open store {store}")
        assert "Repair or move the store file, then press r" in str(
            app.query_one("#broken-hint", Static).render()
        )
        (workspace / "good.duckdb").rename(store)
        await pilot.press("r")
        await settle(pilot)
    session = app.return_value
    assert isinstance(session, Session)  # run_console opens the console on it
    session.close()


async def test_a_tick_that_raises_is_shown_logged_and_recovers(workspace: Path, open_session) -> None:
    session = open_session(workspace)
    failures = ["boom \x1b[31mred\nsecond line"]

    def tick() -> list:
        if failures:
            raise ValueError(failures.pop())
        return []

    session.tick = tick
    app = OncallApp(session, refresh_seconds=0)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        before = rows(app, "#overview-alerts")
        await pilot.press("r")
        await settle(pilot)
        assert app.is_running and app.return_code is None
        escaped = "ValueError: boom \\x1b[31mred\\nsecond line"
        assert ("error", f"engine tick failed: {escaped} (traceback in .oncall/console.log)") in notes(app)
        assert read_error(app.view) == (
            f"could not refresh: engine tick: {escaped} — showing what was read at 12:00:00 UTC"
        )
        assert rows(app, "#overview-alerts") == before  # the last data stays
        log = workspace / ".oncall" / "console.log"
        text = log.read_text()
        assert "engine tick failed" in text and "Traceback (most recent call last)" in text
        assert "raise ValueError(failures.pop())" in text
        assert stat.S_IMODE(log.stat().st_mode) == 0o600
        assert stat.S_IMODE(log.parent.stat().st_mode) == 0o700
        await pilot.press("r")
        await settle(pilot)
        assert read_error(app.view) == ""
        assert ("information", "recovered: engine tick works again") in notes(app)
        assert "engine tick recovered" in log.read_text()


async def test_the_refresh_loop_goes_on_after_failures(workspace: Path, open_session) -> None:
    session = open_session(workspace)
    calls: list[int] = []

    def tick() -> list:
        calls.append(1)
        if len(calls) <= 3:
            raise RuntimeError("collector exploded")
        return []

    session.tick = tick
    app = OncallApp(session, refresh_seconds=0.02)
    async with app.run_test(size=SIZE) as pilot:
        for _ in range(200):  # loose: the backoff is 0.02, 0.04, 0.08 s here
            await pilot.pause(0.05)
            if len(calls) >= 5:
                break
        assert app.is_running and len(calls) >= 5
        failed = [m for s, m in notes(app) if s == "error"]
        assert failed == [
            "engine tick failed: RuntimeError: collector exploded (traceback in .oncall/console.log)"
        ]  # once, not every tick
        assert ("information", "recovered: engine tick works again") in notes(app)
        log = (workspace / ".oncall" / "console.log").read_text()
        assert log.count("Traceback") == 1 and "failed again (the same error, 3 times" in log


async def test_a_view_whose_reader_raises_says_why(
    workspace: Path, open_session, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(store, **kwargs):
        raise RuntimeError("alerts table unreadable")

    real = console.screens.overview.alert_rows
    app = OncallApp(open_session(workspace), refresh_seconds=0)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        monkeypatch.setattr(console.screens.overview, "alert_rows", broken)
        await pilot.press("colon", *"alerts", "enter")
        await settle(pilot)
        assert app.is_running and app.view.view_name == "alerts"
        assert read_error(app.view) == (
            "could not read: reading Alerts: RuntimeError: alerts table unreadable"
        )
        assert [m for s, m in notes(app) if s == "error"] == [
            "reading Alerts failed: RuntimeError: alerts table unreadable (traceback in .oncall/console.log)"
        ]
        monkeypatch.setattr(console.screens.overview, "alert_rows", real)
        await pilot.press("r")
        await settle(pilot)
        assert read_error(app.view) == ""
        assert rows(app, "#alerts-table")[0][:2] == ["firing", "FraudScoringLatency"]


def test_state_dir_is_private(workspace: Path) -> None:
    ws = load_workspace(workspace / "oncall.yaml")
    assert ws.state_dir == workspace / ".oncall"
    path = ensure_state_dir(ws)
    assert path == ws.state_dir and stat.S_IMODE(path.stat().st_mode) == 0o700
