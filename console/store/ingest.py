"""Bulk ingest into the store: samples with series interning, and log records.

Every batch goes in through Arrow in one transaction together with the collector's
cursor, so a crash leaves either the whole batch and its cursor or neither.  Rows
already stored — the same (series, ts) for samples, the same (origin, line_offset)
for logs — are not added again.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from console.store.db import Store
from console.store.journal import note_commit
from console.store.rows import scalar

_SCHEMAS: dict[str, Any] = {}


def __getattr__(name: str) -> Any:
    """SAMPLE_SCHEMA and LOG_SCHEMA, built on first use so importing the store stays light."""
    if name not in ("SAMPLE_SCHEMA", "LOG_SCHEMA"):
        raise AttributeError(name)
    if not _SCHEMAS:
        import pyarrow as pa

        _SCHEMAS["SAMPLE_SCHEMA"] = pa.schema(
            [
                ("name", pa.string()),
                ("labels", pa.string()),
                ("ts", pa.timestamp("us")),
                ("value", pa.float64()),
            ]
        )
        _SCHEMAS["LOG_SCHEMA"] = pa.schema(
            [
                ("ts", pa.timestamp("us")),
                ("source", pa.string()),
                ("service", pa.string()),
                ("level", pa.string()),
                ("message", pa.string()),
                ("attributes", pa.string()),
                ("raw", pa.string()),
                ("parse_error", pa.string()),
                ("origin", pa.string()),
                ("line_offset", pa.int64()),
            ]
        )
    return _SCHEMAS[name]


def canonical_labels(labels: Mapping[str, Any]) -> str:
    """The one JSON text of a label set: keys sorted, values as strings, no spaces.

    A label whose value is empty (or None) is no label, as in Prometheus: `{a="1",b=""}`
    is the series `{a="1"}`."""
    kept = {k: text for k in sorted(labels) if labels[k] is not None and (text := str(labels[k])) != ""}
    return json.dumps(kept, separators=(",", ":"), ensure_ascii=False)


def _without_empty_labels(labels: Any) -> Any:
    """The `labels` column with every label set that holds an empty value made canonical.

    Collectors give canonical JSON already; a text that names an empty value (`"b":""`, or
    `"b":null`) is parsed and rewritten, once per distinct text, so `{"a":"1","b":""}` lands
    as `{"a":"1"}`."""
    import pyarrow.compute as pc

    from console.core import arrays

    matches = pc.match_substring_regex(labels, r'":(?:""|null)[,}]')
    suspect = pc.and_kleene(matches, pc.is_valid(matches))  # null: no match (a scalar False loads pandas)
    if not pc.any(suspect).as_py():
        return labels
    texts = pc.unique(pc.filter(labels, suspect))
    fixed = arrays.strings([_canonical_text(text) for text in texts.to_pylist()])
    return pc.if_else(suspect, pc.take(fixed, pc.index_in(labels, value_set=texts)), labels)


def _canonical_text(text: str) -> str:
    """A label set's JSON text made canonical; a text that is not a JSON object stays as it is."""
    try:
        labels = json.loads(text)
    except ValueError:
        return text
    return canonical_labels(labels) if isinstance(labels, dict) else text


def _as_arrow(data: Any, schema: Any) -> Any:
    import pyarrow as pa

    if isinstance(data, pa.RecordBatch):
        data = pa.Table.from_batches([data])
    if not isinstance(data, pa.Table):
        data = pa.Table.from_pandas(data, preserve_index=False)
    return data.select(schema.names).cast(schema)


Cursor = tuple[str, dict[str, Any]]


def ingest_samples(
    store: Store, data: Any, *, cursor: Cursor | None = None, now: datetime | None = None
) -> int:
    """Insert samples (columns name, labels, ts, value); return how many were new.

    `labels` holds canonical JSON (see `canonical_labels`).  With `cursor`, the
    collector's cursor is stored in the same transaction as the batch.
    """
    table = _as_arrow(data, __getattr__("SAMPLE_SCHEMA"))
    table = table.set_column(1, "labels", _without_empty_labels(table.column("labels").combine_chunks()))
    with store.transaction() as cur:
        cur.register("_batch_in", table)
        try:
            cur.execute(
                """
                CREATE OR REPLACE TEMP TABLE _batch AS
                SELECT name || labels AS key, name, labels, ts, value
                FROM _batch_in WHERE ts IS NOT NULL
                """
            )
            cur.execute(
                """
                INSERT INTO series (id, name, labels, key)
                SELECT nextval('series_id_seq'), name, labels, key
                FROM (SELECT DISTINCT ON (key) key, name, labels FROM _batch) AS fresh
                WHERE NOT EXISTS (SELECT 1 FROM series s WHERE s.key = fresh.key)
                """
            )
            cur.execute(
                """
                INSERT INTO sample_rows (series_id, ts, value)
                WITH batch AS (
                    SELECT DISTINCT ON (s.id, b.ts) s.id AS series_id, b.ts, b.value
                    FROM _batch b JOIN series s ON s.key = b.key
                ), span AS (SELECT min(ts) AS lo, max(ts) AS hi FROM batch),
                existing AS (
                    SELECT x.series_id, x.ts FROM samples x, span
                    WHERE x.ts BETWEEN span.lo AND span.hi
                )
                SELECT b.series_id, b.ts, b.value FROM batch b
                ANTI JOIN existing e ON e.series_id = b.series_id AND e.ts = b.ts
                -- a day at a time, each series' samples together: a time-range scan skips the
                -- row groups of other days, and per-series work still reads runs
                ORDER BY date_trunc('day', b.ts), b.series_id, b.ts
                """
            )
            added = scalar(cur)
            writes = store.sample_writes
            if added and writes is not None:
                oldest = scalar(cur.execute("SELECT epoch_ms(min(ts)) FROM _batch"))
                writes.note(int(oldest))
        finally:
            cur.execute("DROP TABLE IF EXISTS _batch")
            cur.unregister("_batch_in")
        note_commit(cur, table="samples", rows=added, now=now)
        if cursor is not None:
            store.set_cursor(cur, cursor[0], cursor[1], added, now or datetime.utcnow())
    return added


def ingest_logs(store: Store, data: Any, *, cursor: Cursor | None = None, now: datetime | None = None) -> int:
    """Insert log records (see LOG_SCHEMA); return how many were new."""
    table = _as_arrow(data, __getattr__("LOG_SCHEMA"))
    with store.transaction() as cur:
        cur.register("_logs_in", table)
        try:
            cur.execute(
                """
                INSERT INTO logs
                WITH batch AS (
                    SELECT DISTINCT ON (origin, line_offset) * FROM _logs_in
                ), span AS (
                    SELECT min(line_offset) AS lo, max(line_offset) AS hi FROM batch
                ), existing AS (
                    SELECT l.origin, l.line_offset FROM logs l, span
                    WHERE l.line_offset BETWEEN span.lo AND span.hi
                      AND l.origin IN (SELECT DISTINCT origin FROM batch)
                )
                SELECT b.ts, b.source, b.service, b.level, b.message, b.attributes, b.raw,
                       b.parse_error, b.origin, b.line_offset
                FROM batch b
                ANTI JOIN existing e ON e.origin = b.origin AND e.line_offset = b.line_offset
                """
            )
            added = scalar(cur)
        finally:
            cur.unregister("_logs_in")
        note_commit(cur, table="logs", rows=added, now=now)
        if cursor is not None:
            store.set_cursor(cur, cursor[0], cursor[1], added, now or datetime.utcnow())
    return added
