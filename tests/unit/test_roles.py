"""Roles (issue 21, point 5): an incident's commander and responders, with timeline and audit."""

from __future__ import annotations

import json
import os
from datetime import datetime, timedelta
from pathlib import Path

import pytest

from console.core.identity import Actor, account_name
from console.incidents import lifecycle as incidents
from console.incidents.records import IncidentError
from console.incidents.roles import assign, assign_text, responders_of, roles_line
from console.store import Store

T0 = datetime(2026, 11, 20, 12, 0, 0)
ME = Actor(os.getuid(), account_name(os.getuid()), "dana")


@pytest.fixture
def store(tmp_path: Path):
    with Store.open(tmp_path / "s.duckdb") as s:
        yield s


def _roles(store: Store, incident_id: int) -> list[tuple[str, str | None]]:
    return [(e.text, e.actor) for e in incidents.timeline(store, incident_id) if e.kind == "role"]


def test_assign_sets_commander_and_responders_with_one_timeline_entry_each(store) -> None:
    inc = incidents.declare(store, "checkout slow", now=T0, actor="alice")
    inc = incidents.acknowledge(store, inc.id, now=T0 + timedelta(minutes=1), actor="bob")
    done = assign(
        store,
        inc.id,
        commander="alice",
        add_responders=["carol", "erin"],
        now=T0 + timedelta(minutes=2),
        actor=ME,
    )
    assert done.changes == ["commander bob → alice", "responder carol added", "responder erin added"]
    stored = incidents.get_incident(store, inc.id)
    assert stored.commander == "alice" and responders_of(stored.detail) == ["carol", "erin"]
    assert done.incident == stored
    assert roles_line(stored) == "commander: alice · responders: carol, erin"
    assert _roles(store, inc.id) == [(text, str(ME)) for text in done.changes]

    assign(store, inc.id, remove_responders=["carol"], now=T0 + timedelta(minutes=3), actor=ME)
    assert responders_of(incidents.get_incident(store, inc.id).detail) == ["erin"]
    assert _roles(store, inc.id)[-1][0] == "responder carol removed"
    audit = store.query(
        "SELECT actor, uid, on_behalf_of, action, target, params FROM audit WHERE action = 'incident.assign' "
        "ORDER BY id"
    )[1]
    assert [(a, u, o, act, t) for a, u, o, act, t, _ in audit] == [
        (ME.name, ME.uid, "dana", "incident.assign", f"incident:{inc.id}")
    ] * 2
    assert json.loads(audit[0][5])["add_responders"] == ["carol", "erin"]


def test_the_other_detail_of_the_incident_is_kept(store) -> None:
    inc = incidents.declare(store, "x", now=T0, actor="alice")
    incidents.add_followup(store, inc.id, "alert per version", now=T0, actor="alice")
    assign(store, inc.id, add_responders=["bob"], now=T0, actor="alice")
    detail = incidents.get_incident(store, inc.id).detail
    assert detail["followups"][0]["text"] == "alert per version" and detail["responders"] == ["bob"]


@pytest.mark.parametrize(
    ("kw", "message"),
    [
        ({"commander": "--force"}, "starts with '-'"),
        ({"add_responders": ["bob\x1b[31m"]}, "control character"),
        ({"add_responders": ["x" * 101]}, "at most 100 characters"),
        ({"add_responders": ["  "]}, "needs a name"),
        ({"remove_responders": ["bob"]}, "bob is not a responder of incident 1 \\(responders: carol\\)"),
        ({"add_responders": ["carol"]}, "carol is already a responder"),
        ({"commander": "alice"}, "alice is already the commander"),
        ({"add_responders": ["dan"], "remove_responders": ["dan"]}, "both added and removed"),
        ({}, "nothing to assign"),
    ],
)
def test_a_refused_change_writes_nothing(store, kw, message) -> None:
    inc = incidents.declare(store, "x", now=T0, actor="alice", commander="alice")
    assign(store, inc.id, add_responders=["carol"], now=T0, actor="alice")
    before = (incidents.get_incident(store, inc.id), len(incidents.timeline(store, inc.id)))
    with pytest.raises(IncidentError, match=message):
        assign(store, inc.id, now=T0, actor="alice", **kw)
    assert (incidents.get_incident(store, inc.id), len(incidents.timeline(store, inc.id))) == before
    assert store.query("SELECT count(*) FROM audit WHERE action = 'incident.assign'")[1] == [(1,)]


def test_a_closed_incident_keeps_its_roles(store) -> None:
    inc = incidents.declare(store, "x", now=T0, actor="alice")
    for status in ("acknowledged", "resolved", "closed"):
        incidents.transition(store, inc.id, status, now=T0, actor="alice")
    with pytest.raises(IncidentError, match="incident 1 is closed; its roles stay as they were"):
        assign(store, inc.id, add_responders=["bob"], now=T0, actor="alice")
    assert responders_of(incidents.get_incident(store, inc.id).detail) == []
    with pytest.raises(IncidentError, match="no incident 9"):
        assign(store, 9, add_responders=["bob"], now=T0, actor="alice")


def test_the_change_is_made_against_the_incident_as_stored_when_it_runs(store) -> None:
    """A second console's view may be stale: the change reads the row inside its transaction."""
    inc = incidents.declare(store, "x", now=T0, actor="alice")
    stale = incidents.get_incident(store, inc.id)
    assign(store, inc.id, add_responders=["bob"], now=T0, actor="alice")
    assign(store, stale.id, add_responders=["carol"], now=T0, actor="erin")
    assert responders_of(incidents.get_incident(store, inc.id).detail) == ["bob", "carol"]


def test_what_is_typed_in_the_screen(store) -> None:
    inc = incidents.declare(store, "x", now=T0, actor="alice")
    assert assign_text(store, inc.id, "commander  alice ", now=T0, actor="a").changes == [
        "commander — → alice"
    ]
    assert assign_text(store, inc.id, "+bob", now=T0, actor="a").changes == ["responder bob added"]
    assert assign_text(store, inc.id, "-bob", now=T0, actor="a").changes == ["responder bob removed"]
    with pytest.raises(IncidentError, match="type commander NAME · \\+NAME adds a responder"):
        assign_text(store, inc.id, "bob", now=T0, actor="a")
    with pytest.raises(IncidentError, match="starts with '-'"):
        assign_text(store, inc.id, "--bob", now=T0, actor="a")
