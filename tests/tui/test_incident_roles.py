"""`A` on the incident screen: set the commander, add or remove a responder (issue 21, point 5)."""

from __future__ import annotations

from console.incidents import lifecycle as incidents
from console.incidents.roles import responders_of
from console.tui.app import OncallApp
from console.tui.screens.incident import IncidentScreen
from tests.tui.test_incident_console import ME, declared_incident, live_demo, settle, table_rows, text_of

__all__ = ["live_demo"]  # the fixture, used by name


def _errors(app) -> list[str]:
    return [n.message for n in app._notifications if n.severity == "error"]


async def test_a_assigns_roles_shown_in_the_header_and_the_timeline(live_demo) -> None:
    session, _clock = live_demo
    incident = declared_incident(session)
    app = OncallApp(session, refresh_seconds=0)
    async with app.run_test(size=(120, 40)) as pilot:
        app.push_screen(IncidentScreen(session, incident.id))
        await settle(pilot)
        assert "commander: — · responders: —" in text_of(app.screen, "#inc-head")
        await pilot.press("A")
        assert "commander NAME · +NAME adds a responder" in app.screen.query_one("#inc-input").placeholder
        await pilot.press(*"commander bob", "enter")
        await settle(pilot)
        await pilot.press("A", *"+carol", "enter")
        await settle(pilot)
        assert "commander: bob · responders: carol" in text_of(app.screen, "#inc-head")
        timeline = [(r[1], r[2], r[3]) for r in table_rows(app.screen, "#inc-timeline")]
        assert timeline[-2:] == [
            ("role", f"{ME} (on behalf of alice)", "commander — → bob"),
            ("role", f"{ME} (on behalf of alice)", "responder carol added"),
        ]
        for typed, said in (
            ("--force", "name '-force' starts with '-'; give a name, not an option"),
            ("+carol", "carol is already a responder of incident 1"),
            ("dave", "'dave': type commander NAME · +NAME adds a responder · -NAME removes one"),
        ):
            await pilot.press("A", *typed, "enter")
            await settle(pilot)
            assert _errors(app)[-1] == said
        await pilot.press("A", *"-carol", "enter")
        await settle(pilot)
        assert "commander: bob · responders: —" in text_of(app.screen, "#inc-head")
    stored = incidents.get_incident(session.store, incident.id)
    assert (stored.commander, responders_of(stored.detail)) == ("bob", [])
    kinds = [e.text for e in incidents.timeline(session.store, incident.id) if e.kind == "role"]
    assert kinds == ["commander — → bob", "responder carol added", "responder carol removed"]
