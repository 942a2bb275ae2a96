"""Roles' SQL runs unchanged on the team's Postgres schema and leaves the same rows as on the store.

`console.incidents.roles.assign` writes through `store.shared`: this runs it on a store whose
shared tables are in a real Postgres (`attach`) and on a plain DuckDB store, and compares what
each holds afterwards.
"""

from __future__ import annotations

import os
from datetime import datetime
from typing import Any

import pytest

from console.config.workspace import load_workspace
from console.core.identity import Actor, account_name
from console.incidents import lifecycle as incidents
from console.incidents.records import IncidentError
from console.incidents.roles import assign
from console.store import Store
from console.team.shared import attach

pytestmark = pytest.mark.integration

T0 = datetime(2026, 11, 20, 12, 0)
ME = Actor(os.getuid(), account_name(os.getuid()), "alice@example.com")


def _declare(store: Any) -> None:
    with store.shared.transaction() as cur:
        cur.execute(
            "INSERT INTO incidents (id, title, severity, status, commander, group_key, created_at, alerts, detail) "
            "VALUES (nextval('incident_id_seq'), 'fraud 5xx', 'SEV2', 'triggered', 'bob', NULL, ?, '[]', "
            '\'{"followups": [{"text": "alert per version"}]}\')',
            [T0],
        )


def _changes(store: Any) -> None:
    assign(store, 1, commander="alice", add_responders=["carol", "erin"], now=T0, actor=ME)
    assign(store, 1, remove_responders=["carol"], now=T0, actor=ME)
    with pytest.raises(IncidentError, match="erin is already a responder of incident 1"):
        assign(store, 1, add_responders=["erin"], now=T0, actor=ME)


def _held(query: Any) -> dict[str, list[tuple[Any, ...]]]:
    return {
        "incidents": query("SELECT id, status, commander, detail FROM incidents ORDER BY id"),
        "timeline": query("SELECT incident_id, ts, kind, actor, text, detail FROM timeline ORDER BY id"),
        "audit": query(
            "SELECT ts, actor, uid, on_behalf_of, action, phase, target, params, result FROM audit ORDER BY id"
        ),
    }


def test_assign_leaves_the_same_rows_on_postgres_as_on_the_store(team, tmp_path) -> None:
    assert team.oncall("team", "init").returncode == 0
    workspace = load_workspace(team.path)
    assert workspace.config.team is not None
    with Store.open(tmp_path / "team.duckdb") as pg_store:
        attach(pg_store, workspace.config.team, team.root)
        _declare(pg_store)
        _changes(pg_store)
        on_postgres = _held(lambda sql: pg_store.shared.query(sql)[1])
    with Store.open(tmp_path / "s.duckdb") as store:
        _declare(store)
        _changes(store)
        on_store = _held(lambda sql: store.query(sql)[1])
        stored = incidents.get_incident(store, 1)
    assert on_postgres == on_store
    assert stored.commander == "alice" and stored.detail["responders"] == ["erin"]
    assert [row[4] for row in on_store["timeline"]] == [
        "commander bob → alice",
        "responder carol added",
        "responder erin added",
        "responder carol removed",
    ]
