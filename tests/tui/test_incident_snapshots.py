"""The incidents view and the incident screen at 120×40 with a fixed clock (review the report on change)."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path

import pandas as pd
import pytest
from settle import settled

from console.drift.stats import DRIFT_DETECTED, DRIFT_SCORE
from console.incidents import lifecycle as incidents
from console.incidents.loop import run_incident_cycle
from console.playbooks.context import RunContext
from console.playbooks.runs import start_run
from console.screens.incident import matched_playbooks, playbook_library
from console.store import canonical_labels, ingest_samples
from console.tui.app import OncallApp

SIZE = (120, 40)
NOW = datetime(2026, 11, 20, 12, 0)  # the fixture workspace's fixed time


DRIFT_FROM = NOW - timedelta(minutes=16)  # `amount` drifts from 11:44, 4 minutes after the page


def record_amount_drift(store) -> None:
    """The drift source's series for the last hour: `amount` drifts from DRIFT_FROM (to 0.84), `country` never."""
    rows, t = [], NOW - timedelta(hours=1)
    while t <= NOW:
        amount = 0.05 if t < DRIFT_FROM else 0.12 + 0.72 * (t - DRIFT_FROM) / (NOW - DRIFT_FROM)
        for column, test, score in (("amount", "wasserstein", amount), ("country", "jensenshannon", 0.03)):
            labels = {"model": "fraud-detector", "column": column}
            rows.append((DRIFT_SCORE, canonical_labels({**labels, "test": test}), t, score))
            rows.append((DRIFT_DETECTED, canonical_labels(labels), t, float(score >= 0.1)))
        t += timedelta(minutes=1)
    ingest_samples(store, pd.DataFrame(rows, columns=["name", "labels", "ts", "value"]))


@pytest.fixture
def incident_session(workspace: Path, session_for, monkeypatch: pytest.MonkeyPatch):
    """The fixture's firing page alert declared as an incident 5 minutes ago, its playbook one step in,
    and `amount` of its model drifting since 11:44."""
    monkeypatch.setenv("ONCALL_ACTOR", "alice")
    session = session_for(workspace)
    record_amount_drift(session.store)
    declared = NOW - timedelta(minutes=5)
    [news] = run_incident_cycle(session.store, declared)
    incidents.acknowledge(session.store, news.incident_id, now=declared + timedelta(minutes=1), actor="alice")
    incident = incidents.get_incident(session.store, news.incident_id)
    playbook = matched_playbooks(playbook_library(session.workspace), incident)[0]
    ctx = RunContext(store=session.store, actor="alice", clock=lambda: NOW, workspace=session.workspace)
    start_run(ctx, playbook, incident=incident).advance()
    return session


def keys(*pressed: str):
    async def run_before(pilot) -> None:
        await settled(pilot)
        await pilot.press("colon", *"incidents", "enter")
        await settled(pilot)
        if pressed:
            await pilot.press(*pressed)
            await settled(pilot)

    return run_before


def test_incidents_view(incident_session, snap_compare) -> None:
    app = OncallApp(incident_session, refresh_seconds=0)
    assert snap_compare(app, terminal_size=SIZE, run_before=keys())


def test_incident_screen(incident_session, snap_compare) -> None:
    app = OncallApp(incident_session, refresh_seconds=0)
    assert snap_compare(app, terminal_size=SIZE, run_before=keys("enter"))


def test_incident_screen_wide(incident_session, snap_compare) -> None:
    """The incident screen at 200×50: the timeline and steps with room to read them whole."""
    app = OncallApp(incident_session, refresh_seconds=0)
    assert snap_compare(app, terminal_size=(200, 50), run_before=keys("enter"))
