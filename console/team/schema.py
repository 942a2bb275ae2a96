"""The team database's schema: the shared tables, as an ordered list of forward migrations.

One list per backend: the store's DuckDB list (console/store/schema.py) keeps every table, this
one only the shared ones, in the same column order and types (Postgres spellings: TEXT for
VARCHAR, DOUBLE PRECISION for DOUBLE), so the same SQL reads and writes either.  A change to a
shared table is a migration in both lists; tests/integration/team/test_schema.py compares them.
Everything lives in the Postgres schema `oncall` (NAMESPACE).  Never edit a shipped entry.
"""

from __future__ import annotations

from console.store.shared import SHARED_TABLES  # parents first: the order `oncall team import` copies

NAMESPACE = "oncall"
__all__ = ["MIGRATIONS", "NAMESPACE", "SCHEMA_VERSION", "SHARED_TABLES"]

# Tables whose BIGINT `id` comes from a sequence of the same name in both backends.
ID_SEQUENCES: dict[str, str] = {
    "incidents": "incident_id_seq",
    "timeline": "timeline_id_seq",
    "playbook_runs": "playbook_run_id_seq",
    "audit": "audit_id_seq",
}

MIGRATIONS: list[str] = [
    # 1: the shared tables as the store has them at its schema v12
    """
    CREATE TABLE alerts (
        fingerprint  TEXT PRIMARY KEY,
        source       TEXT NOT NULL,
        rule         TEXT,
        name         TEXT NOT NULL,
        labels       TEXT NOT NULL,
        annotations  TEXT,
        state        TEXT NOT NULL,
        active_since TIMESTAMP,
        fired_at     TIMESTAMP,
        resolved_at  TIMESTAMP,
        last_eval    TIMESTAMP,
        keep_until   TIMESTAMP,
        value        DOUBLE PRECISION,
        silenced_by  TEXT,
        inhibited_by TEXT,
        stale        TEXT
    );
    CREATE TABLE alert_history (
        fingerprint TEXT NOT NULL,
        ts          TIMESTAMP NOT NULL,
        from_state  TEXT,
        to_state    TEXT NOT NULL,
        value       DOUBLE PRECISION,
        reason      TEXT
    );
    CREATE INDEX alert_history_by_alert ON alert_history (fingerprint, ts);
    CREATE TABLE silences (
        id          TEXT PRIMARY KEY,
        matchers    TEXT NOT NULL,
        starts_at   TIMESTAMP NOT NULL,
        ends_at     TIMESTAMP NOT NULL,
        created_by  TEXT,
        comment     TEXT,
        source      TEXT,
        external_id TEXT
    );
    CREATE SEQUENCE incident_id_seq START 1;
    CREATE TABLE incidents (
        id           BIGINT PRIMARY KEY,
        title        TEXT NOT NULL,
        severity     TEXT,
        status       TEXT NOT NULL,
        commander    TEXT,
        group_key    TEXT,
        created_at   TIMESTAMP NOT NULL,
        acked_at     TIMESTAMP,
        mitigated_at TIMESTAMP,
        resolved_at  TIMESTAMP,
        closed_at    TIMESTAMP,
        alerts       TEXT,
        detail       TEXT
    );
    CREATE SEQUENCE timeline_id_seq START 1;
    CREATE TABLE timeline (
        id          BIGINT PRIMARY KEY,
        incident_id BIGINT NOT NULL,
        ts          TIMESTAMP NOT NULL,
        kind        TEXT NOT NULL,
        actor       TEXT,
        text        TEXT,
        detail      TEXT
    );
    CREATE INDEX timeline_by_incident ON timeline (incident_id, id);
    CREATE SEQUENCE audit_id_seq START 1;
    CREATE TABLE audit (
        id           BIGINT PRIMARY KEY,
        ts           TIMESTAMP NOT NULL,
        actor        TEXT,
        action       TEXT NOT NULL,
        phase        TEXT NOT NULL,
        target       TEXT,
        reason       TEXT,
        params       TEXT,
        result       TEXT,
        uid          BIGINT,
        on_behalf_of TEXT
    );
    CREATE INDEX audit_by_time ON audit (ts);
    CREATE SEQUENCE playbook_run_id_seq START 1;
    CREATE TABLE playbook_runs (
        id           BIGINT PRIMARY KEY,
        incident_id  BIGINT,
        playbook_id  TEXT NOT NULL,
        started_at   TIMESTAMP NOT NULL,
        finished_at  TIMESTAMP,
        status       TEXT NOT NULL,
        current_step TEXT,
        variables    TEXT,
        state        TEXT
    );
    CREATE TABLE version_marks (
        model          TEXT NOT NULL,
        version        TEXT NOT NULL,
        registry       TEXT,
        incident_id    BIGINT,
        reason         TEXT,
        actor          TEXT,
        ts             TIMESTAMP NOT NULL,
        cleared_at     TIMESTAMP,
        cleared_by     TEXT,
        cleared_reason TEXT
    );
    CREATE INDEX version_marks_by_version ON version_marks (model, version);
    """,
    # 2: what `oncall team import` copied, so a second run copies nothing again: each local
    #    row's id (per origin: host and store path) and the id it has here, and each run
    """
    CREATE TABLE imported_rows (
        origin     TEXT NOT NULL,
        table_name TEXT NOT NULL,
        local_id   BIGINT NOT NULL,
        shared_id  BIGINT NOT NULL,
        PRIMARY KEY (origin, table_name, local_id)
    );
    CREATE TABLE import_runs (
        id     BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
        origin TEXT NOT NULL,
        ts     TIMESTAMP NOT NULL,
        actor  TEXT,
        uid    BIGINT,
        copied TEXT NOT NULL
    );
    """,
    # 3: who evaluates the rules for the team (console/team/lease.py): one row a lease, its
    #    holder, its fencing token (raised at each takeover) and its expiry, on the database's clock
    """
    CREATE TABLE leases (
        name        TEXT PRIMARY KEY,
        holder      TEXT,
        token       BIGINT NOT NULL DEFAULT 0,
        acquired_at TIMESTAMP,
        renewed_at  TIMESTAMP,
        expires_at  TIMESTAMP
    );
    """,
]

SCHEMA_VERSION = len(MIGRATIONS)
