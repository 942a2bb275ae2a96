"""Roles' SQL runs unchanged on the team's Postgres schema and leaves the same rows as on the store.

`console.incidents.roles.assign` is written for `store.transaction()` with `?` placeholders; the
shared tables are to be routed to Postgres by converting those calls mechanically. This runs it
on a real Postgres through a cursor that only swaps `?` for `%s`, and on a DuckDB store, and
compares what each holds afterwards.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from typing import Any

import psycopg
import pytest

from console.config.workspace import load_workspace
from console.core.identity import Actor, account_name
from console.incidents import lifecycle as incidents
from console.incidents.records import IncidentError
from console.incidents.roles import assign
from console.store import Store
from console.team import TeamBackend

pytestmark = pytest.mark.integration

T0 = datetime(2026, 11, 20, 12, 0)
ME = Actor(os.getuid(), account_name(os.getuid()), "alice@example.com")


class _Cursor:
    """A psycopg cursor taking DuckDB's `?` placeholders: the only change the conversion makes."""

    def __init__(self, cur: psycopg.Cursor[Any]) -> None:
        self.cur = cur

    def execute(self, sql: str, params: Any = None) -> _Cursor:
        self.cur.execute(sql.replace("?", "%s"), params)
        return self

    def fetchall(self) -> list[tuple[Any, ...]]:
        return self.cur.fetchall()


class _PostgresStore:
    def __init__(self, con: psycopg.Connection[Any]) -> None:
        self.con = con

    @contextmanager
    def transaction(self) -> Iterator[_Cursor]:
        with self.con.transaction(), self.con.cursor() as cur:
            yield _Cursor(cur)


def _declare(store: Any) -> None:
    with store.transaction() as cur:
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
    backend = TeamBackend.from_config(workspace.config.team, team.root)
    with backend.connect() as con:
        pg_store = _PostgresStore(con)
        _declare(pg_store)
        _changes(pg_store)
        on_postgres = _held(lambda sql: con.execute(sql).fetchall())
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
