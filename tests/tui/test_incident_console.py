"""The demo's incident in the console: page → incident → playbook → rollback → recovery → export."""

from __future__ import annotations

import os
import pwd
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from textual.widgets import DataTable, Input, Static

import console.tui.screens.incident as incident_tui
from console.cli.commands.demo import prepare
from console.config.workspace import load_workspace
from console.incidents import lifecycle as incidents
from console.incidents.postmortem import export_markdown
from console.runtime.session import Session
from console.tui.app import OncallApp
from console.tui.screens.incident import IncidentScreen
from console.tui.screens.modals import PlanModal
from console.tui.widgets.chart import TimeChart, utc

START = datetime(2026, 11, 20, 12, 0)
TICK = timedelta(seconds=30)

ME = pwd.getpwuid(os.getuid()).pw_name  # the OS account; $ONCALL_ACTOR is a claim


class ManualClock:
    """The session's clock; the test moves it."""

    def __init__(self, start: datetime) -> None:
        self.now = start

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
def live_demo(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    """A fresh demo workspace whose session runs the engine on a clock the test advances; CI
    deploys v4 as champion (the demo's `--canary off`: no canary judgement heads off the page)."""
    monkeypatch.setenv("ONCALL_ACTOR", "alice")
    prepare(tmp_path, now=START, days=1, seed=7, canary=False)
    clock = ManualClock(START)
    session = Session(
        load_workspace(tmp_path / "oncall.yaml"), clock=clock, run_engine=True, listen=False, canaries="off"
    )
    yield session, clock
    session.close()


async def settle(pilot) -> None:
    await pilot.app.workers.wait_for_complete()
    await pilot.pause()
    await pilot.app.workers.wait_for_complete()
    await pilot.pause()


def table_rows(root, selector: str) -> list[list[str]]:
    table = root.query_one(selector, DataTable)
    return [[str(c) for c in table.get_row_at(i)] for i in range(table.row_count)]


ANSWERED = 'step started-with-deploy (Did the latency rise start with a new version of fraud-detector?): answered "yes"'


def text_of(root, selector: str) -> str:
    return root.query_one(selector, Static).render().plain


async def test_demo_incident_from_page_to_postmortem(live_demo, monkeypatch) -> None:
    session, clock = live_demo

    def sleep_with_engine(_session, seconds: float) -> None:  # a wait_for poll: time passes
        clock.now += timedelta(seconds=seconds)
        session.tick()

    monkeypatch.setattr(incident_tui, "wait_sleep", sleep_with_engine)
    app = OncallApp(session, refresh_seconds=0)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        await pilot.press("colon", *"incidents", "enter")
        await settle(pilot)
        assert app.view.view_name == "incidents"
        assert table_rows(app, "#incidents-table") == []
        # CI deploys v4 15 s in, it degrades a minute later; the engine pages and declares the incident
        for _ in range(60):
            clock.now += TICK
            await pilot.press("r")
            await settle(pilot)
            if table_rows(app, "#incidents-table"):
                break
        [row] = table_rows(app, "#incidents-table")
        assert row[:4] == ["1", "SEV2", "triggered", "—"]
        assert row[5].startswith("SLOErrorBudgetBurn: fraud-scoring-latency")
        declared_at = clock.now

        await pilot.press("enter")
        await settle(pilot)
        screen = app.screen
        assert isinstance(screen, IncidentScreen)
        assert "SEV2" in text_of(screen, "#inc-head") and "TRIGGERED" in text_of(screen, "#inc-head")
        timeline = [r[1:] for r in table_rows(screen, "#inc-timeline")]
        assert ["alert", "", "alert fired: SLOErrorBudgetBurn"] in timeline
        assert "latency-regression-after-deploy" in text_of(screen, "#inc-playbook-title")
        # what changed: CI's deploy of v4 a minute before the burn leads the suspects; the v3
        # deploy a day earlier follows far behind (the drift of `amount` is not detected yet)
        suspects = text_of(screen, "#inc-suspects").splitlines()
        assert suspects[0].startswith("1. 0.97 alias_move fraud-detector v3 → v4 by ci-deployer")
        assert "the model fraud-scoring-latency measures (match 1.0)" in suspects[1]
        assert suspects[2].startswith("2. 0.42 alias_move fraud-detector v2 → v3 by ci-deployer")
        chart = screen.query_one("#inc-chart", TimeChart)
        what = screen.page.what
        assert chart.window == (utc(what.onset) - timedelta(hours=1), utc(clock.now))
        assert [m.label for m in chart.markers] == ["champion v3 → v4", "declared"]
        assert text_of(screen, "#inc-marks") == "1 12:00 champion v3 → v4 · 2 12:03 declared"
        drawn = chart.render().plain
        for label in ("page 14.4× · 6×", "burn 5m", "burn 1h", f"{what.onset:%H}:", "time (UTC)"):
            assert label in drawn, label
        assert text_of(screen, "#inc-burn").startswith("What changed · fraud-scoring-latency · ")

        await pilot.press("a")  # acknowledge
        await settle(pilot)
        assert "ACKNOWLEDGED" in text_of(screen, "#inc-head")
        assert "commander: alice" in text_of(screen, "#inc-head")
        await pilot.press("n", *"paged; looking at latency", "enter")  # a note
        await settle(pilot)
        assert ["note", f"{ME} (on behalf of alice)", "paged; looking at latency"] in [
            r[1:] for r in table_rows(screen, "#inc-timeline")
        ]

        await pilot.press("p")  # start the matched playbook
        await settle(pilot)
        preview = text_of(screen, "#inc-preview")
        assert "SELECT ts, kind, version, actor, source FROM changes" in preview
        assert "params: ['fraud-detector']" in preview  # resolved before it runs
        await pilot.press("x")  # query: recent changes
        await settle(pilot)
        assert table_rows(screen, "#inc-result")[0][1:4] == ["alias_move", "4", "ci-deployer"]
        await pilot.press("x")  # query: latency now
        await settle(pilot)
        assert "last: latency-now passed" in text_of(screen, "#inc-preview")
        assert float(table_rows(screen, "#inc-result")[0][0]) > 0.25
        assert "1=yes" in text_of(screen, "#inc-preview")
        # the question names what the suspects panel ranks, and its honest answer is "yes"
        question = text_of(screen, "#inc-preview").splitlines()[2]
        assert question == (
            "The top suspect is alias_move fraud-detector v3 → v4 by ci-deployer at 12:00 UTC (as the "
            "burn began; score 0.974). Did the p99 latency of fraud-detector start rising while v4 "
            "serves, after it was normal under the version before it?"
        )
        await pilot.press("1")  # decision: yes → rollback
        await settle(pilot)
        answered = [r[-1] for r in table_rows(screen, "#inc-timeline") if r[1] == "step"]
        assert any(ANSWERED in text for text in answered), answered
        assert 'decision answered "yes"' in text_of(screen, "#inc-steps")  # beside the step too
        assert "champion v4 → v3" in text_of(screen, "#inc-preview")  # the plan, before it runs

        await pilot.press("x")  # rollback through the plan modal
        await settle(pilot)
        modal = app.screen
        assert isinstance(modal, PlanModal)
        assert "v4 → v3" in modal.plan_text
        modal.query_one("#reason", Input).focus()
        await pilot.press(*"p99 tripled right after v4", "tab", *"fraud-detector", "enter")
        await settle(pilot)
        assert app.screen is screen
        assert session.registry()[1].resolve_alias("fraud-detector", "champion").version == "3"
        steps = text_of(screen, "#inc-steps")
        assert "✓ 4. Roll fraud-detector back" in steps

        rolled_back_at = clock.now
        await pilot.press("x")  # wait_for: the clock runs, it heals
        await settle(pilot)
        assert "last: watch-latency passed" in text_of(screen, "#inc-preview")
        assert clock.now > rolled_back_at
        assert "ACKNOWLEDGED" in text_of(screen, "#inc-head")
        await pilot.press("x")  # the step `incident: mitigate` moves the incident itself
        await settle(pilot)
        assert "playbook finished" in text_of(screen, "#inc-preview")
        assert "MITIGATED" in text_of(screen, "#inc-head")
        for _ in range(20):  # ten more minutes of healthy serving
            clock.now += TICK
            session.tick()
        await pilot.press("v")
        await settle(pilot)
        assert "RESOLVED" in text_of(screen, "#inc-head")
        burn = screen.page.what.burning  # the chart shows the burn drop
        assert burn.at(declared_at) > 14.4 and burn.burn[-1] < 1
        latest_t, latest = chart.series[0].points[-1]  # redrawn with the burn up to the clock's now
        assert latest < 1 and chart.series[0].points[0][1] < 1
        assert max(x for _, x in chart.series[0].points) > 14.4
        assert chart.window[1] == utc(clock.now) and latest_t > utc(rolled_back_at)
        assert f" · {latest:.1f}× at {latest_t:%H:%M} · peak " in text_of(screen, "#inc-burn")
        await pilot.press("escape")
        await settle(pilot)
        assert app.view.view_name == "incidents"
        await pilot.press("r")
        await settle(pilot)
        assert table_rows(app, "#incidents-table")[0][2] == "resolved"

    text = export_markdown(session.store, 1, now=clock.now, slos=session.slos)
    for line in (
        "alert fired: SLOErrorBudgetBurn",
        f"note | {ME} (on behalf of alice) | paged; looking at latency",
        "step rollback (",
        "step watch-latency (",
        "step watch-latency",
        "triggered → acknowledged",
        "acknowledged → mitigated: playbook latency-regression-after-deploy",
        ANSWERED,
        "mitigated → resolved",
        "rollback (after) on local:fraud-detector\n  - change: v4 → v3",
        f"  - actor: {ME} (on behalf of alice)",
        "p99 tripled right after v4",
    ):
        assert line in text, line
    assert "fraud-scoring-latency" in text and "error budget burned during the incident" in text
    rows = [line for line in text.splitlines() if "step rollback (" in line]
    assert rows and rows[0].endswith(": passed |")


def declared_incident(session: Session) -> incidents.Incident:
    """An incident declared for a paging burn alert on the demo's latency SLO, at START."""
    with session.store.transaction() as cur:
        cur.execute(
            "INSERT INTO alerts (fingerprint, source, rule, name, labels, annotations, "
            "state, active_since, fired_at) VALUES ('fp', 'slo', 'r', 'SLOErrorBudgetBurn', "
            "?, '{}', 'firing', ?, ?)",
            ['{"severity": "page", "slo": "fraud-scoring-latency", "model": "fraud-detector"}', START, START],
        )
    incident, _ = incidents.declare_from_alert(session.store, "fp", now=START, actor="alice")
    return incident


async def test_closing_and_reopening_resumes_the_run(live_demo) -> None:
    session, _clock = live_demo
    incident = declared_incident(session)
    app = OncallApp(session, refresh_seconds=0)
    async with app.run_test(size=(120, 40)) as pilot:
        app.push_screen(IncidentScreen(session, incident.id))
        await settle(pilot)
        await pilot.press("p", "x")
        await settle(pilot)
        assert "next: p99 latency" in text_of(app.screen, "#inc-preview")
    reopened = OncallApp(session, refresh_seconds=0)
    async with reopened.run_test(size=(120, 40)) as pilot:
        reopened.push_screen(IncidentScreen(session, incident.id))
        await settle(pilot)
        screen = reopened.screen
        assert "next: p99 latency" in text_of(screen, "#inc-preview")
        assert "✓ 1. What changed for fraud-detec… query passed" in text_of(screen, "#inc-steps")
        assert "· running" in text_of(screen, "#inc-playbook-title")
