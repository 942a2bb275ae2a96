"""`oncall team init` against a real Postgres: the schema, created once, mirrors the store's shared tables."""

from __future__ import annotations

import json
import threading
from datetime import datetime

import psycopg
import pytest

from console.config.team import TeamConfig
from console.store import Store
from console.team import TeamBackend
from console.team.schema import ID_SEQUENCES, NAMESPACE, SCHEMA_VERSION, SHARED_TABLES

pytestmark = pytest.mark.integration

# DuckDB's type names and Postgres's for the same column type
SAME_TYPE = {
    "VARCHAR": "text",
    "TIMESTAMP": "timestamp without time zone",
    "DOUBLE": "double precision",
    "BIGINT": "bigint",
}


def _tables(dsn: str) -> dict[str, list[tuple[str, str]]]:
    with psycopg.connect(dsn) as con:
        rows = con.execute(
            "SELECT table_name, column_name, data_type FROM information_schema.columns "
            "WHERE table_schema = %s ORDER BY table_name, ordinal_position",
            [NAMESPACE],
        ).fetchall()
    tables: dict[str, list[tuple[str, str]]] = {}
    for table, column, kind in rows:
        tables.setdefault(table, []).append((column, kind))
    return tables


def test_init_creates_the_schema_then_says_it_is_up_to_date(team):
    first = team.oncall("team", "init")
    assert first.returncode == 0, first.stderr
    assert first.stdout.strip() == f"team database {team.shown}: schema created (v{SCHEMA_VERSION})"
    tables = _tables(team.dsn)
    second = team.oncall("team", "init", "--format", "json")
    assert second.returncode == 0, second.stderr
    assert json.loads(second.stdout)["from_version"] == SCHEMA_VERSION
    assert _tables(team.dsn) == tables  # nothing created twice, nothing lost
    assert set(SHARED_TABLES) | {"schema_version", "imported_rows", "import_runs", "leases"} == set(tables)
    with psycopg.connect(team.dsn) as con:
        versions = con.execute(f"SELECT version FROM {NAMESPACE}.schema_version ORDER BY version").fetchall()
        sequences = {
            r[0]
            for r in con.execute(
                "SELECT sequence_name FROM information_schema.sequences WHERE sequence_schema = %s",
                [NAMESPACE],
            ).fetchall()
        }
    assert [v for (v,) in versions] == list(range(1, SCHEMA_VERSION + 1))
    assert set(ID_SEQUENCES.values()) <= sequences


def test_concurrent_inits_migrate_once(team):
    backend = TeamBackend.from_config(TeamConfig(dsn_file=str(team.root / "team.dsn")), team.root)
    results, errors = [], []

    def init() -> None:
        try:
            results.append(backend.migrate(datetime(2026, 11, 20, 12)))
        except Exception as exc:  # noqa: BLE001 - the assertion below shows it
            errors.append(exc)

    threads = [threading.Thread(target=init) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert errors == []
    assert sorted(results) == [(0, SCHEMA_VERSION)] + [(SCHEMA_VERSION, SCHEMA_VERSION)] * 3


def test_the_shared_tables_have_the_stores_columns_in_its_order(team, tmp_path):
    """The same SQL (`INSERT INTO timeline VALUES (…)`) must work on either backend: a column
    added to a shared table in console/store/schema.py needs its migration in console/team/schema.py."""
    assert team.oncall("team", "init").returncode == 0
    shared = _tables(team.dsn)
    with Store.open(tmp_path / "local.duckdb") as store:
        for table in SHARED_TABLES:
            local = store.query(
                "SELECT column_name, data_type FROM information_schema.columns "
                "WHERE table_name = ? ORDER BY ordinal_position",
                [table],
            )[1]
            assert [(name, SAME_TYPE[kind]) for name, kind in local] == shared[table], table
