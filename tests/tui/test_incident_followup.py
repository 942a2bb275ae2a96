"""`f` on the incident screen: a follow-up for the postmortem, in the timeline and the export."""

from __future__ import annotations

from console.incidents import lifecycle as incidents
from console.incidents.postmortem import export_markdown
from console.tui.app import OncallApp
from console.tui.screens.incident import IncidentScreen
from tests.tui.test_incident_console import START, declared_incident, live_demo, settle, table_rows

__all__ = ["live_demo"]  # the fixture, used by name


async def test_f_adds_a_followup_the_postmortem_lists(live_demo) -> None:
    session, _clock = live_demo
    incident = declared_incident(session)
    app = OncallApp(session, refresh_seconds=0)
    async with app.run_test(size=(120, 40)) as pilot:
        app.push_screen(IncidentScreen(session, incident.id))
        await settle(pilot)
        await pilot.press("f", *"alert per model version", "enter")
        await settle(pilot)
        timeline = [r[1] + " " + r[3] for r in table_rows(app.screen, "#inc-timeline")]
        assert "followup follow-up: alert per model version" in timeline
        await pilot.press("f", "enter")  # empty: refused, nothing added
        await settle(pilot)
    text = export_markdown(session.store, incident.id, now=START)
    assert "- [ ] alert per model version" in text
    assert incidents.get_incident(session.store, incident.id).detail["followups"][0]["text"] == (
        "alert per model version"
    )
    assert len(incidents.get_incident(session.store, incident.id).detail["followups"]) == 1
