"""`oncall team import`: copy a local store's shared tables into the team database, once.

All in one transaction, one import at a time (an advisory lock).  Rows with an `id`
(incidents, timeline, playbook runs, audit) keep it when it is free in the team database and
get the next one of its sequence when another store's row holds it; which local id became which
shared id is kept per origin (the host and path of the store) in `imported_rows`, so a second
run copies nothing again, and references (`timeline.incident_id`, `playbook_runs.incident_id`,
`version_marks.incident_id`, an audit target `incident:N`) follow their incident.  Alerts and
silences are keyed by fingerprint and id: one already there is kept.  Alert history and
version marks have no key: a row is copied unless as many equal rows (equal in the columns
that never change) are there already.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

from console.team.backend import IMPORT_LOCK, TeamBackend, TeamError, database_errors
from console.team.schema import ID_SEQUENCES, SCHEMA_VERSION, SHARED_TABLES

if TYPE_CHECKING:
    import psycopg

    from console.store import Store

_INCIDENT_REFS = {"timeline": "incident_id", "playbook_runs": "incident_id", "version_marks": "incident_id"}
_KEYED = {"alerts": "fingerprint", "silences": "id"}
# the columns that identify a row of a table without a key (those that change later left out)
_IDENTITY = {
    "alert_history": ("fingerprint", "ts", "from_state", "to_state", "value", "reason"),
    "version_marks": ("model", "version", "registry", "incident_id", "reason", "actor", "ts"),
}
_INCIDENT_TARGET = re.compile(r"^incident:(\d+)$")


@dataclass
class ImportResult:
    """Per shared table: rows in the local store, rows copied, rows the team database had already."""

    origin: str
    local: dict[str, int] = field(default_factory=dict)
    copied: dict[str, int] = field(default_factory=dict)
    present: dict[str, int] = field(default_factory=dict)
    renumbered: dict[str, int] = field(default_factory=dict)  # copied under another id
    missing: list[str] = field(default_factory=list)  # shared tables the (older) store lacks

    @property
    def total_copied(self) -> int:
        return sum(self.copied.values())

    def as_dict(self) -> dict[str, Any]:
        return {
            "origin": self.origin,
            "tables": {
                table: {
                    "local": self.local.get(table, 0),
                    "copied": self.copied.get(table, 0),
                    "already_there": self.present.get(table, 0),
                    "renumbered": self.renumbered.get(table, 0),
                }
                for table in SHARED_TABLES
            },
            "missing_tables": self.missing,
            "copied": self.total_copied,
        }


def import_store(
    backend: TeamBackend, store: Store, *, origin: str, now: datetime, actor: str | None, uid: int | None
) -> ImportResult:
    """Copy what the team database lacks of `store`'s shared tables; TeamError if it cannot."""
    result = ImportResult(origin)
    local_tables = {row[0] for row in store.query("SELECT table_name FROM information_schema.tables")[1]}
    with backend.connect() as con, database_errors(backend, "importing"), con.transaction():
        version = backend.schema_version(con)
        if version != SCHEMA_VERSION:
            found = "no oncall schema" if version is None else f"schema v{version}"
            raise TeamError(
                f"team database {backend.where} has {found}, this oncall needs v{SCHEMA_VERSION}; "
                + ("upgrade oncall" if (version or 0) > SCHEMA_VERSION else "run `oncall team init` first")
            )
        con.execute("SELECT pg_advisory_xact_lock(%s)", [IMPORT_LOCK])
        incidents: dict[int, int] = {}
        for table in SHARED_TABLES:
            if table not in local_tables:
                result.missing.append(table)
                continue
            _copy_table(con, store, table, result, incidents)
            if table == "incidents":
                incidents = _mapping(con, origin, "incidents")
        if result.total_copied:
            con.execute(
                "INSERT INTO import_runs (origin, ts, actor, uid, copied) VALUES (%s, %s, %s, %s, %s)",
                [origin, now, actor, uid, json.dumps(result.copied, sort_keys=True)],
            )
    return result


def _columns(con: psycopg.Connection[Any], store: Store, table: str) -> list[str]:
    """The table's columns in the team database; TeamError if the store has one it lacks."""
    shared = [
        row[0]
        for row in con.execute(
            "SELECT column_name FROM information_schema.columns WHERE table_schema = current_schema() "
            "AND table_name = %s ORDER BY ordinal_position",
            [table],
        ).fetchall()
    ]
    local = store.query(f'SELECT * FROM "{table}" LIMIT 0')[0]
    extra = [name for name in local if name not in shared]
    if extra:
        raise TeamError(
            f"the store's {table} has columns the team database lacks ({', '.join(extra)}); "
            "run `oncall team init` with this oncall, or upgrade the oncall that runs it"
        )
    return [name for name in shared if name in local]


def _copy_table(
    con: psycopg.Connection[Any], store: Store, table: str, result: ImportResult, incidents: dict[int, int]
) -> None:
    columns = _columns(con, store, table)
    order = "id" if table in ID_SEQUENCES else ", ".join(f'"{c}"' for c in columns)
    rows = [
        dict(zip(columns, row))
        for row in store.query(f'SELECT {_names(columns)} FROM "{table}" ORDER BY {order}')[1]
    ]
    result.local[table] = len(rows)
    ref = _INCIDENT_REFS.get(table)
    for row in rows:
        if ref is not None and row.get(ref) is not None:
            row[ref] = incidents.get(row[ref], row[ref])
        if table == "audit":
            row["target"] = _audit_target(row.get("target"), incidents)
    if table in ID_SEQUENCES:
        _copy_with_ids(con, table, columns, rows, result)
    elif table in _KEYED:
        _copy_keyed(con, table, columns, rows, result)
    else:
        _copy_multiset(con, table, columns, rows, result)


def _names(columns: list[str]) -> str:
    return ", ".join(f'"{name}"' for name in columns)


def _audit_target(target: Any, incidents: dict[int, int]) -> Any:
    match = _INCIDENT_TARGET.match(target) if isinstance(target, str) else None
    if match is None:
        return target
    local = int(match.group(1))
    return f"incident:{incidents.get(local, local)}"


def _mapping(con: psycopg.Connection[Any], origin: str, table: str) -> dict[int, int]:
    return dict(
        con.execute(
            "SELECT local_id, shared_id FROM imported_rows WHERE origin = %s AND table_name = %s",
            [origin, table],
        ).fetchall()
    )


def _copy_with_ids(
    con: psycopg.Connection[Any],
    table: str,
    columns: list[str],
    rows: list[dict[str, Any]],
    result: ImportResult,
) -> None:
    """Rows not copied before: under their own id when free, else the sequence's next."""
    origin = result.origin
    done = _mapping(con, origin, table)
    todo = [row for row in rows if row["id"] not in done]
    result.present[table] = len(rows) - len(todo)
    ids = [row["id"] for row in todo]
    taken = {r[0] for r in con.execute(f'SELECT id FROM "{table}" WHERE id = ANY(%s)', [ids]).fetchall()}
    keep = [row for row in todo if row["id"] not in taken]
    move = [row for row in todo if row["id"] in taken]
    sequence = ID_SEQUENCES[table]
    _insert(con, table, columns, keep)
    _sequence_past_ids(con, table, sequence)
    mapped = [(row["id"], row["id"]) for row in keep]
    if move:
        fresh = [
            r[0]
            for r in con.execute(
                f"SELECT nextval('{sequence}') FROM generate_series(1, %s)", [len(move)]
            ).fetchall()
        ]
        for row, new_id in zip(move, fresh):
            mapped.append((row["id"], new_id))
            row["id"] = new_id
        _insert(con, table, columns, move)
    bookkeeping = ["origin", "table_name", "local_id", "shared_id"]
    _copy_rows(
        con, "imported_rows", bookkeeping, [dict(zip(bookkeeping, (origin, table, *ids))) for ids in mapped]
    )
    result.copied[table] = len(todo)
    result.renumbered[table] = len(move)


def _sequence_past_ids(con: psycopg.Connection[Any], table: str, sequence: str) -> None:
    """Move the sequence past every id in the table (never back: others may hold its values)."""
    row = con.execute(
        f'SELECT (SELECT max(id) FROM "{table}"), last_value, is_called FROM "{sequence}"'
    ).fetchone()
    assert row is not None
    highest, last, called = row
    target = max(highest or 0, last if called else 0)
    if target > 0:
        con.execute("SELECT setval(%s, %s, true)", [sequence, target])


def _insert(con: psycopg.Connection[Any], table: str, columns: list[str], rows: list[dict[str, Any]]) -> None:
    """New rows, by COPY (never row by row)."""
    if rows:
        _copy_rows(con, table, columns, rows)


def _copy_rows(
    con: psycopg.Connection[Any], table: str, columns: list[str], rows: list[dict[str, Any]]
) -> None:
    with con.cursor() as cur, cur.copy(f'COPY "{table}" ({_names(columns)}) FROM STDIN') as copy:
        for row in rows:
            copy.write_row([row[c] for c in columns])


def _copy_keyed(
    con: psycopg.Connection[Any],
    table: str,
    columns: list[str],
    rows: list[dict[str, Any]],
    result: ImportResult,
) -> None:
    """Rows whose key is not there yet (one already there, from any store, is kept as it is)."""
    key = _KEYED[table]
    keys = [row[key] for row in rows]
    there = {
        r[0] for r in con.execute(f'SELECT "{key}" FROM "{table}" WHERE "{key}" = ANY(%s)', [keys]).fetchall()
    }
    fresh = [row for row in rows if row[key] not in there]
    _insert(con, table, columns, fresh)
    result.copied[table] = len(fresh)
    result.present[table] = len(rows) - len(fresh)


def _copy_multiset(
    con: psycopg.Connection[Any],
    table: str,
    columns: list[str],
    rows: list[dict[str, Any]],
    result: ImportResult,
) -> None:
    """Each row unless as many rows equal to it (in the identity columns) are there already.

    Rows are matched by the text of a ROW of their identity columns (NULL and '' differ, NaN
    equals NaN), so both sides hash-join instead of comparing each row with every other."""
    identity = [c for c in _IDENTITY[table] if c in columns]
    key = "ROW(" + ", ".join(f'x."{name}"' for name in identity) + ")::text"
    con.execute(f'CREATE TEMP TABLE incoming (LIKE "{table}") ON COMMIT DROP')
    _copy_rows(con, "incoming", columns, rows)
    copied = con.execute(
        f"WITH fresh AS (SELECT x.*, {key} AS row_key, "
        f"row_number() OVER (PARTITION BY {key}) AS nth FROM incoming x), "
        f'there AS (SELECT {key} AS row_key, count(*) AS n FROM "{table}" x GROUP BY 1) '
        f'INSERT INTO "{table}" ({_names(columns)}) SELECT {_names(columns)} FROM fresh '
        "LEFT JOIN there USING (row_key) WHERE fresh.nth > coalesce(there.n, 0)"
    ).rowcount
    con.execute("DROP TABLE incoming")
    result.copied[table] = copied
    result.present[table] = len(rows) - copied
