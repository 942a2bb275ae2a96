"""Store schema as an ordered list of forward migrations."""

from __future__ import annotations

# Each entry moves the schema from version i to i + 1.  Never edit a shipped entry:
# append a new one.  Timestamps are UTC, stored as TIMESTAMP (no zone).
MIGRATIONS: list[str] = [
    # 1: the initial schema
    """
    CREATE SEQUENCE series_id_seq START 1;
    CREATE TABLE series (
        id      BIGINT PRIMARY KEY,
        name    VARCHAR NOT NULL,
        labels  VARCHAR NOT NULL,          -- canonical JSON object, keys sorted
        key     VARCHAR NOT NULL UNIQUE    -- name + labels, the interning key
    );
    CREATE TABLE samples (
        series_id BIGINT NOT NULL,
        ts        TIMESTAMP NOT NULL,
        value     DOUBLE
    );
    CREATE TABLE logs (
        ts         TIMESTAMP,
        source     VARCHAR NOT NULL,       -- collector or import origin
        service    VARCHAR,
        level      VARCHAR,
        message    VARCHAR,
        attributes VARCHAR,                -- JSON object of the other fields
        raw        VARCHAR,
        parse_error VARCHAR,
        origin     VARCHAR NOT NULL,       -- file the line came from
        line_offset BIGINT NOT NULL        -- position in that file: the dedupe key
    );
    CREATE TABLE changes (
        ts      TIMESTAMP NOT NULL,
        kind    VARCHAR NOT NULL,          -- alias_move, deploy, config, data
        model   VARCHAR,
        version VARCHAR,
        actor   VARCHAR,
        detail  VARCHAR,                   -- JSON
        source  VARCHAR
    );
    CREATE TABLE alerts (
        fingerprint  VARCHAR PRIMARY KEY,
        source       VARCHAR NOT NULL,     -- console rule, alertmanager, slo
        rule         VARCHAR,
        name         VARCHAR NOT NULL,
        labels       VARCHAR NOT NULL,     -- JSON
        annotations  VARCHAR,              -- JSON
        state        VARCHAR NOT NULL,     -- inactive, pending, firing, resolved
        active_since TIMESTAMP,
        fired_at     TIMESTAMP,
        resolved_at  TIMESTAMP,
        last_eval    TIMESTAMP,
        keep_until   TIMESTAMP,
        value        DOUBLE,
        silenced_by  VARCHAR,              -- JSON list of silence ids
        inhibited_by VARCHAR               -- JSON list of fingerprints
    );
    CREATE TABLE alert_history (
        fingerprint VARCHAR NOT NULL,
        ts          TIMESTAMP NOT NULL,
        from_state  VARCHAR,
        to_state    VARCHAR NOT NULL,
        value       DOUBLE
    );
    CREATE TABLE silences (
        id          VARCHAR PRIMARY KEY,
        matchers    VARCHAR NOT NULL,      -- JSON list of {name, value, op}
        starts_at   TIMESTAMP NOT NULL,
        ends_at     TIMESTAMP NOT NULL,
        created_by  VARCHAR,
        comment     VARCHAR,
        source      VARCHAR,
        external_id VARCHAR
    );
    CREATE SEQUENCE incident_id_seq START 1;
    CREATE TABLE incidents (
        id           BIGINT PRIMARY KEY,
        title        VARCHAR NOT NULL,
        severity     VARCHAR,
        status       VARCHAR NOT NULL,
        commander    VARCHAR,
        group_key    VARCHAR,
        created_at   TIMESTAMP NOT NULL,
        acked_at     TIMESTAMP,
        mitigated_at TIMESTAMP,
        resolved_at  TIMESTAMP,
        closed_at    TIMESTAMP,
        alerts       VARCHAR,              -- JSON list of fingerprints
        detail       VARCHAR               -- JSON
    );
    CREATE SEQUENCE timeline_id_seq START 1;
    CREATE TABLE timeline (
        id          BIGINT PRIMARY KEY,
        incident_id BIGINT NOT NULL,
        ts          TIMESTAMP NOT NULL,
        kind        VARCHAR NOT NULL,
        actor       VARCHAR,
        text        VARCHAR,
        detail      VARCHAR
    );
    CREATE SEQUENCE audit_id_seq START 1;
    CREATE TABLE audit (
        id      BIGINT PRIMARY KEY,
        ts      TIMESTAMP NOT NULL,
        actor   VARCHAR,
        action  VARCHAR NOT NULL,
        phase   VARCHAR NOT NULL,          -- planned, before, after, failed
        target  VARCHAR,
        reason  VARCHAR,
        params  VARCHAR,                   -- JSON
        result  VARCHAR                    -- JSON
    );
    CREATE SEQUENCE playbook_run_id_seq START 1;
    CREATE TABLE playbook_runs (
        id           BIGINT PRIMARY KEY,
        incident_id  BIGINT,
        playbook_id  VARCHAR NOT NULL,
        started_at   TIMESTAMP NOT NULL,
        finished_at  TIMESTAMP,
        status       VARCHAR NOT NULL,     -- running, done, aborted
        current_step VARCHAR,
        variables    VARCHAR,              -- JSON, fixed at start
        state        VARCHAR               -- JSON: per-step outcomes
    );
    CREATE TABLE collector_state (
        name          VARCHAR PRIMARY KEY,
        cursor        VARCHAR,             -- JSON
        healthy       BOOLEAN,
        last_success  TIMESTAMP,
        last_error    VARCHAR,
        last_error_at TIMESTAMP,
        rows_ingested BIGINT DEFAULT 0,
        updated_at    TIMESTAMP
    );
    """,
    # the local model registry (console/registry/local.py)
    """
    CREATE TABLE registry_versions (
        registry   VARCHAR NOT NULL,
        model      VARCHAR NOT NULL,
        version    VARCHAR NOT NULL,
        created_at TIMESTAMP NOT NULL,
        source     VARCHAR,
        run_id     VARCHAR,
        tags       VARCHAR,                -- JSON object
        metrics    VARCHAR,                -- JSON object
        PRIMARY KEY (registry, model, version)
    );
    CREATE TABLE registry_aliases (
        registry   VARCHAR NOT NULL,
        model      VARCHAR NOT NULL,
        alias      VARCHAR NOT NULL,
        version    VARCHAR NOT NULL,
        updated_at TIMESTAMP NOT NULL,
        PRIMARY KEY (registry, model, alias)
    );
    """,
    # 3: alert rules' last evaluation and health (broken rules show their error)
    """
    CREATE TABLE rule_state (
        rule        VARCHAR PRIMARY KEY,   -- group/alert
        source      VARCHAR NOT NULL,      -- rule, slo, health
        group_name  VARCHAR,
        last_eval   TIMESTAMP,
        health      VARCHAR NOT NULL,      -- ok, error
        last_error  VARCHAR,
        instances   BIGINT,
        duration_ms DOUBLE
    );
    """,
    # 4: prediction records and their (possibly late) labels, joined by (model, id)
    """
    CREATE TABLE predictions (
        model      VARCHAR NOT NULL,
        id         VARCHAR NOT NULL,
        ts         TIMESTAMP NOT NULL,
        version    VARCHAR,
        features   VARCHAR NOT NULL,      -- JSON object: feature name -> value
        prediction DOUBLE,
        origin     VARCHAR,
        PRIMARY KEY (model, id)
    );
    CREATE TABLE prediction_labels (
        model      VARCHAR NOT NULL,
        id         VARCHAR NOT NULL,
        label      DOUBLE,
        ts         TIMESTAMP NOT NULL,    -- when the label became known
        PRIMARY KEY (model, id)
    );
    """,
    # 5: SLO rollups (console/slo/sums.py): per series, a finished UTC day's or hour's
    #    counter summary, so a fresh process need not read every sample
    """
    CREATE TABLE slo_rollups (
        series_id   BIGINT NOT NULL,
        start_ms    BIGINT NOT NULL,      -- block start, epoch ms
        length_ms   BIGINT NOT NULL,      -- 86400000 (a day) or 3600000 (an hour)
        samples     BIGINT NOT NULL,      -- samples with a value (NULL and NaN skipped)
        first_ts    BIGINT NOT NULL,      -- epoch ms (0 when there are no samples)
        first_value DOUBLE NOT NULL,
        last_ts     BIGINT NOT NULL,
        last_value  DOUBLE NOT NULL,
        inner_inc   DOUBLE NOT NULL,      -- increases of the samples after the first (resets count)
        ts_offset   BIGINT NOT NULL       -- sum of (ts − start) in µs: checked against the samples
    );
    """,
    # 6: last good configuration (console/runtime/lastgood.py): each config file's last version that
    #    loaded, kept so a file that breaks keeps it in force across restarts; which file a
    #    rule came from, why an alert moved, and alerts kept while their file cannot load
    """
    CREATE TABLE config_files (
        path       VARCHAR PRIMARY KEY,   -- absolute path of the file
        kind       VARCHAR NOT NULL,      -- workspace, rules, slos, playbooks
        sha256     VARCHAR NOT NULL,
        text       VARCHAR NOT NULL,      -- the source text that loaded
        loaded_at  TIMESTAMP NOT NULL     -- when that text first loaded
    );
    ALTER TABLE rule_state ADD COLUMN file VARCHAR;
    ALTER TABLE alerts ADD COLUMN stale VARCHAR;
    ALTER TABLE alert_history ADD COLUMN reason VARCHAR;
    """,
    # 7: store integrity (console/store/journal.py): the commit sequence number each journaled
    # transaction bumps, and what was found lost when a WAL did not survive
    """
    CREATE TABLE store_commits (seq BIGINT NOT NULL);
    INSERT INTO store_commits VALUES (0);
    CREATE SEQUENCE integrity_id_seq START 1;
    CREATE TABLE store_integrity (
        id          BIGINT PRIMARY KEY,
        detected_at TIMESTAMP NOT NULL,
        kind        VARCHAR NOT NULL,     -- wal damaged, wal missing, orphaned wal, wal unreadable
        batches     BIGINT NOT NULL,
        rows        BIGINT NOT NULL,
        first_at    TIMESTAMP,            -- the oldest lost batch's commit time
        last_at     TIMESTAMP,
        wal_kept    VARCHAR,              -- where the damaged WAL was set aside
        error       VARCHAR,              -- DuckDB's error on open, if any
        lost        VARCHAR NOT NULL      -- JSON list of the lost journal entries
    );
    """,
    # 8: the audited actor is the OS account (console/core/identity.py): `actor` is its name, `uid`
    #    its uid; the identity claimed with --actor / $ONCALL_ACTOR is kept apart
    """
    ALTER TABLE audit ADD COLUMN uid BIGINT;
    ALTER TABLE audit ADD COLUMN on_behalf_of VARCHAR;
    """,
    # 9: what a collector wants the engineer to know while healthy (console/store/notes.py),
    #    e.g. compressed rotations left unread, a file truncated with no copy found
    """
    ALTER TABLE collector_state ADD COLUMN notes VARCHAR;   -- JSON: standing notes, events
    """,
    # 10: runs skipped because the source's previous run was still going (collectors/lanes.py)
    """
    ALTER TABLE collector_state ADD COLUMN runs_skipped BIGINT DEFAULT 0;
    ALTER TABLE collector_state ADD COLUMN last_skipped_at TIMESTAMP;
    """,
    # 11: rows a collector refused (console/store/refused.py): timestamps outside the source's
    #     window, values that do not parse; the last run's counts by reason and the totals
    """
    ALTER TABLE collector_state ADD COLUMN refused VARCHAR; -- JSON: last run, totals
    """,
    # 12: rollback memory (console/registry/marks.py): a version an alias was rolled back away
    #     from is marked bad, so the next rollback or promote does not propose it again; a
    #     deliberate promote (--force) clears the mark, kept with who cleared it and when
    """
    CREATE TABLE version_marks (
        model          VARCHAR NOT NULL,
        version        VARCHAR NOT NULL,
        registry       VARCHAR,
        incident_id    BIGINT,            -- the incident the rollback was for, if any
        reason         VARCHAR,
        actor          VARCHAR,
        ts             TIMESTAMP NOT NULL,
        cleared_at     TIMESTAMP,         -- NULL while the mark stands
        cleared_by     VARCHAR,
        cleared_reason VARCHAR
    );
    """,
    # 13: canary analyses (console/canary/): one row per judgement of a canary against its
    #     baseline, the per-metric results in `result` and what the rollback on a fail did
    """
    CREATE SEQUENCE canary_analysis_id_seq START 1;
    CREATE TABLE canary_analyses (
        id               BIGINT PRIMARY KEY,
        name             VARCHAR NOT NULL,  -- the canary spec's name
        model            VARCHAR NOT NULL,
        ts               TIMESTAMP NOT NULL, -- the end of the judged window (the analysis's `at`)
        baseline_version VARCHAR NOT NULL,
        canary_version   VARCHAR NOT NULL,
        score            DOUBLE,            -- NULL when nothing was judged
        verdict          VARCHAR NOT NULL,  -- pass, marginal, fail, nodata
        reason           VARCHAR NOT NULL,
        result           VARCHAR NOT NULL,  -- JSON: the whole analysis, metric by metric
        rollback         VARCHAR            -- JSON: what the rollback on a fail did, if one was planned
    );
    """,
    # 14: shadow prediction records (console/canary/shadow.py): a version scoring the same
    #     requests as the served one without serving them; apart from `predictions` (keyed by
    #     model + id, the served record) so that neither collides with the other and the served
    #     model's drift windows and label lag see only what was served
    """
    CREATE TABLE shadow_predictions (
        model      VARCHAR NOT NULL,
        id         VARCHAR NOT NULL,
        version    VARCHAR NOT NULL,
        ts         TIMESTAMP NOT NULL,
        features   VARCHAR,               -- JSON object, as in predictions
        prediction DOUBLE,
        origin     VARCHAR,
        PRIMARY KEY (model, id, version)
    );
    """,
    # 15: compacted samples (console/store/compact.py): the rows move to `sample_rows`, read through
    #     the view `samples` (the same columns and types as before).  Every write appends rows as
    #     they come (value in `value`); `oncall compact` (and the owning process after a UTC day
    #     closes) rewrites closed days sorted by week, series and time so DuckDB's lightweight
    #     compression applies, an integral value in `ivalue` (bit-packed deltas), `value` NULL.
    """
    ALTER TABLE samples RENAME TO sample_rows;
    ALTER TABLE sample_rows ADD COLUMN ivalue BIGINT;  -- the value when compacted and an integer
    CREATE VIEW samples AS
        SELECT series_id, ts, coalesce(ivalue::DOUBLE, value) AS value FROM sample_rows;
    CREATE TABLE store_compactions (
        ran_at       TIMESTAMP NOT NULL,  -- when the compaction ran (UTC)
        cold_before  TIMESTAMP NOT NULL,  -- the samples before this were rewritten compacted
        cold_samples BIGINT NOT NULL,     -- samples before and after cold_before
        hot_samples  BIGINT NOT NULL,
        bytes_before BIGINT NOT NULL      -- the store file's size before (after: the file)
    );
    """,
]

SCHEMA_VERSION = len(MIGRATIONS)

# Tables that grow with time and how each one is aged out: (table, timestamp column).
RETENTION_KINDS: dict[str, tuple[str, str]] = {
    "samples": ("sample_rows", "ts"),  # the table behind the view `samples`
    "logs": ("logs", "ts"),
    "changes": ("changes", "ts"),
    "alert_history": ("alert_history", "ts"),
}
