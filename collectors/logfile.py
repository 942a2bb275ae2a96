"""`logfile`: follow a glob of log files (JSON lines, logfmt, regex) into the store's logs.

Each file's byte offset is committed with every batch, so a restart resumes where the
last batch ended and re-reading adds nothing (rows are keyed by origin and offset).  Which
file is which (rename, copytruncate, copies, deletes, gzip) is `logfile_tracking`'s part;
docs/logs.md tells the guarantees.
"""

from __future__ import annotations

import glob
import json
import os
import re
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from typing import TYPE_CHECKING, Any, BinaryIO, Literal

import duckdb
import pyarrow as pa
import pyarrow.compute as pc
from pydantic import Field, field_validator, model_validator

from collectors.base import Collector, CollectResult, SourceError, TimedOptions
from collectors.deadline import check_deadline
from collectors.logfile_chunks import Chunk, Readable, read_chunk
from collectors.logfile_gzip import GzipStream
from collectors.logfile_tracking import GZIP_ERRORS, Plan, Read, grow_head, plan_run, scan
from collectors.validate import check, timestamps
from console.store.ingest import LOG_SCHEMA
from console.store.notes import record_notes
from console.store.rows import scalar

if TYPE_CHECKING:
    from console.store import Store

LOG_COLUMNS = LOG_SCHEMA.names

_LOGFMT = re.compile(r'([^\s=]+)=("(?:[^"\\]|\\.)*"|\S*)')


class LogfileOptions(TimedOptions):
    path: str = Field(min_length=1, description="a file or glob, relative to the workspace")
    format: Literal["json", "logfmt", "regex"] = "json"
    pattern: str | None = None
    ts_field: str = "ts"
    level_field: str = "level"
    service_field: str = "service"
    message_field: str = "message"
    service: str | None = None
    max_line_bytes: int = Field(default=64 << 10, ge=64)
    chunk_bytes: int = Field(default=16 << 20, ge=1024)
    read_gzip: bool = Field(default=False, description="read gzipped rotations (.gz) once each")

    @field_validator("pattern")
    @classmethod
    def _pattern_compiles(cls, pattern: str | None) -> str | None:
        if pattern is not None:
            try:
                compiled = re.compile(pattern)
            except re.error as exc:
                raise ValueError(f"not a valid regex: {exc}") from None
            if not compiled.groupindex:
                raise ValueError("needs named groups, e.g. (?P<message>.*)")
        return pattern

    @model_validator(mode="after")
    def _pattern_fits(self) -> LogfileOptions:
        if self.format == "regex" and not self.pattern:
            raise ValueError("format regex needs a pattern with named groups")
        if self.format != "regex" and self.pattern:
            raise ValueError("pattern is only used with format: regex")
        return self


def logfmt_docs(lines: list[str]) -> tuple[list[str | None], list[str | None]]:
    """Each logfmt line as a JSON object text, or None with the reason it did not parse."""
    docs: list[str | None] = []
    errors: list[str | None] = []
    for line in lines:
        pairs = _LOGFMT.findall(line)
        if not pairs:
            docs.append(None)
            errors.append("no key=value pairs (not logfmt)")
            continue
        record = {}
        for key, value in pairs:
            if value.startswith('"') and len(value) >= 2:
                value = value[1:-1].replace('\\"', '"').replace("\\\\", "\\")
            record[key] = value
        docs.append(json.dumps(record, ensure_ascii=False))
        errors.append(None)
    return docs, errors


# Each reads `_lines` (offset, length, line) into a JSON document or why a line is none.
_JSON_DOCS = """
    SELECT line_offset, len_bytes, line,
           CASE WHEN jt = 'OBJECT' THEN line END AS doc,
           CASE WHEN len_bytes > $cap THEN NULL
                WHEN jt IS NULL THEN 'not valid JSON'
                WHEN jt <> 'OBJECT' THEN 'JSON but not an object' END AS err
    FROM (SELECT *, CASE WHEN len_bytes <= $cap
                         THEN json_type(TRY_CAST(line AS JSON)) END AS jt
          FROM _lines WHERE line <> '')
"""
_REGEX_DOCS = """
    SELECT line_offset, len_bytes, line,
           CASE WHEN len_bytes <= $cap AND regexp_matches(line, $pattern)
                THEN to_json(regexp_extract(line, $pattern, $names))::VARCHAR END AS doc,
           CASE WHEN len_bytes <= $cap AND NOT regexp_matches(line, $pattern)
                THEN 'does not match the pattern' END AS err
    FROM _lines WHERE line <> ''
"""
_LOGFMT_DOCS = """
    SELECT l.line_offset, l.len_bytes, l.line AS line,
           CASE WHEN l.len_bytes <= $cap THEN d.doc END AS doc,
           CASE WHEN l.len_bytes <= $cap THEN d.err END AS err
    FROM _lines l POSITIONAL JOIN _docs d
    WHERE l.line <> ''
"""


class LogfileCollector(Collector):
    """Follows appends to every file matching the glob; one origin per file generation."""

    kind = "logfile"
    Options = LogfileOptions
    options: LogfileOptions
    retention_kind = "logs"

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._parser: duckdb.DuckDBPyConnection | None = None

    @property
    def pattern(self) -> str:
        path = os.path.expanduser(self.options.path)
        return path if os.path.isabs(path) else os.path.join(self.base_dir, path)

    def collect(self, store: Store, now: datetime) -> CollectResult:
        opts = self.options
        cursor = store.get_cursor(self.name) or {}
        plan, next_gen = plan_run(
            dict(cursor.get("files", {})),
            scan(glob.glob(self.pattern)),
            read_gzip=opts.read_gzip,
            next_gen=int(cursor.get("next_gen", 0)),
        )
        state = {"files": plan.tracked, "next_gen": next_gen}
        added = 0
        for read in plan.reads:
            if not read.keep:  # tracked while it is read: a crash reads on
                plan.tracked[read.path] = read.entry
            added += self._follow(store, state, read, now, plan.standing)
            if not read.keep:
                del plan.tracked[read.path]  # a rotated copy read to its end is forgotten
        with store.transaction() as cur:  # new, rotated and forgotten files
            store.set_cursor(cur, self.name, state, 0, now)
            record_notes(
                cur,
                self.name,
                self._shown(self._standing(plan) + plan.standing),
                self._shown(plan.events),
                now,
            )
        return CollectResult(rows=added, detail={"files": len(plan.tracked)})

    def _shown(self, notes: list[str]) -> list[str]:
        """Notes with the workspace's paths shown relative to it."""
        base = os.path.join(os.path.abspath(self.base_dir), "")
        return [note.replace(base, "") for note in notes]

    def _standing(self, plan: Plan) -> list[str]:
        """The note for compressed files the glob matches but that are left unread."""
        if not plan.skipped:
            return []
        names = ", ".join(os.path.relpath(p, self.base_dir) for p in plan.skipped[:3])
        more = f" and {len(plan.skipped) - 3} more" if len(plan.skipped) > 3 else ""
        how = "only gzip is read" if self.options.read_gzip else "read_gzip: true reads .gz files"
        return [f"{len(plan.skipped)} compressed file(s) left unread ({names}{more}): {how}"]

    def _open(self, read: Read) -> GzipStream | BinaryIO:
        try:
            return GzipStream(read.path) if read.gzipped else open(read.path, "rb")
        except OSError as exc:
            raise SourceError(f"{read.path}: cannot read ({exc.strerror or exc})") from None

    def _follow(
        self, store: Store, state: dict[str, Any], read: Read, now: datetime, standing: list[str]
    ) -> int:
        """Read lines from the entry's offset to the end, one batch per chunk."""
        entry = read.entry
        with self._open(read) as fh:
            size = fh.size if isinstance(fh, GzipStream) else os.fstat(fh.fileno()).st_size
            entry["seen_size"] = size if not read.gzipped else entry.get("seen_size", 0)
            if not read.gzipped:
                grow_head(entry, read.path)
            try:
                added = self._chunks(store, state, read, fh, size, now)
            except GZIP_ERRORS as exc:
                if not read.gzipped:
                    raise
                standing.append(
                    f"{read.path}: gzip data ends early after byte {entry['offset']} "
                    f"({exc}); read on from there next run"
                )
                return 0
            if read.gzipped:
                entry["done"] = True
        return added

    def _chunks(
        self, store: Store, state: dict[str, Any], read: Read, fh: Readable, size: int, now: datetime
    ) -> int:
        """Parse the next chunk while the store takes this one; the cursor moves with each."""
        opts = self.options
        entry = read.entry
        added = 0
        with ThreadPoolExecutor(max_workers=1) as parser:

            def read_and_parse(offset: int) -> tuple[Chunk, pa.Table] | None:
                chunk = read_chunk(fh, offset, opts.chunk_bytes, opts.max_line_bytes, read.final)
                return None if chunk is None else (chunk, self.parse(chunk, entry["origin"], now))

            pending = parser.submit(read_and_parse, entry["offset"]) if entry["offset"] < size else None
            while pending is not None:
                ready = pending.result()
                if ready is None:
                    break
                chunk, table = ready
                pending = (
                    parser.submit(read_and_parse, chunk.next_offset) if chunk.next_offset < size else None
                )
                read_bytes = chunk.next_offset - entry["offset"]
                entry["offset"] = chunk.next_offset
                if not read.gzipped:
                    grow_head(entry, read.path)
                added += self._store(store, table, entry["origin"], state, now)
                check_deadline(read_bytes, read.path)  # `timeout` stops here, cursor kept
        return added

    def _store(self, store: Store, table: pa.Table, origin: str, state: dict[str, Any], now: datetime) -> int:
        """Append a parsed batch and the cursor in one transaction; skip offsets already kept."""
        if table.num_rows == 0:
            with store.transaction() as cur:
                store.set_cursor(cur, self.name, state, 0, now)
            return 0
        offsets = table.column("line_offset")
        low, high = pc.min(offsets).as_py(), pc.max(offsets).as_py()
        with store.transaction() as cur:
            cur.register("_logfile_batch", table)
            try:
                cur.execute(
                    f"""
                    INSERT INTO logs ({", ".join(LOG_COLUMNS)})
                    SELECT {", ".join("b." + c for c in LOG_COLUMNS)} FROM _logfile_batch b
                    ANTI JOIN (SELECT line_offset FROM logs
                               WHERE origin = ? AND line_offset BETWEEN ? AND ?) kept
                           ON kept.line_offset = b.line_offset
                """,
                    [origin, low, high],
                )
                added = scalar(cur)
            finally:
                cur.unregister("_logfile_batch")
            store.set_cursor(cur, self.name, state, added, now)
        return added

    # -- parsing ------------------------------------------------------------------

    def _con(self) -> duckdb.DuckDBPyConnection:
        if self._parser is None:
            self._parser = duckdb.connect(config={"autoinstall_known_extensions": False})
            self._parser.execute("SET TimeZone = 'UTC'")
        return self._parser

    def parse(self, chunk: Chunk, origin: str, now: datetime) -> pa.Table:
        """Parse a chunk's lines in bulk into rows for the logs table."""
        opts = self.options
        cap = opts.max_line_bytes
        lines = pa.table(
            {
                "line_offset": pa.array(chunk.offsets, pa.int64()),
                "len_bytes": pa.array(chunk.lengths, pa.int64()),
                "line": chunk.text,
            }
        )
        con = self._con()
        con.register("_lines", lines)
        try:
            docs_sql, params = self._docs_query(con, chunk, cap)
            fields = [opts.ts_field, opts.level_field, opts.service_field, opts.message_field]
            paths = ["$." + json.dumps(name) for name in fields]
            removal = json.dumps({name: None for name in fields})
            sql = f"""
                WITH docs AS MATERIALIZED ({docs_sql}),
                vals AS MATERIALIZED (
                    SELECT line_offset, len_bytes, line, doc, err, v[1] AS ts_text,
                           v[2] AS level_text, v[3] AS service_text, v[4] AS message_text
                    FROM (SELECT *, json_extract_string(doc, $paths) AS v FROM docs)
                ),
                nums AS (SELECT *, TRY_CAST(ts_text AS DOUBLE) AS num FROM vals),
                secs AS (
                    SELECT *, CASE
                        WHEN ts_text IS NULL THEN NULL
                        WHEN num IS NOT NULL THEN
                            CASE WHEN abs(num) > 1e14 THEN num / 1e6  -- microseconds
                                 WHEN abs(num) > 1e11 THEN num / 1e3  -- milliseconds
                                 ELSE num END                         -- seconds
                        ELSE epoch_us(TRY_CAST(ts_text AS TIMESTAMPTZ)) / 1e6 END AS raw_s
                    FROM nums
                ),
                -- epoch seconds, checked against the source's window in Python (validate.py)
                timed AS (SELECT *, CASE WHEN isfinite(raw_s) THEN raw_s END AS stamp_s FROM secs)
                SELECT stamp_s, $source AS source,
                       coalesce(service_text, $service) AS service, lower(level_text) AS level,
                       message_text AS message,
                       CASE WHEN doc IS NOT NULL THEN json_merge_patch(doc, $removal)::VARCHAR END
                           AS attributes,
                       CASE WHEN len_bytes > $cap THEN left(line, $cap) ELSE line END AS raw,
                       CASE WHEN len_bytes > $cap
                            THEN 'line of ' || len_bytes || ' bytes truncated to ' || $cap
                            WHEN err IS NOT NULL THEN err
                            WHEN ts_text IS NOT NULL AND stamp_s IS NULL
                            THEN 'timestamp ' || left(ts_text, 60) || ' not understood'
                       END AS parse_error,
                       $origin AS origin, line_offset
                FROM timed
            """
            params.update(
                {
                    "paths": paths,
                    "removal": removal,
                    "source": self.name,
                    "service": opts.service,
                    "origin": origin,
                }
            )
            try:
                parsed = con.sql(sql, params=params).to_arrow_table()
            except duckdb.Error as exc:
                raise SourceError(f"{origin}: cannot parse lines: {str(exc).splitlines()[0]}") from None
        finally:
            con.unregister("_lines")
        return self._timed(parsed, now)

    def _docs_query(
        self, con: duckdb.DuckDBPyConnection, chunk: Chunk, cap: int
    ) -> tuple[str, dict[str, Any]]:
        """The SQL that reads each line of `_lines` as a JSON document or an error, in the
        source's format, and its parameters (logfmt is parsed here, into `_docs`)."""
        opts = self.options
        if opts.format == "json":
            return _JSON_DOCS, {"cap": cap}
        if opts.format == "regex":
            names = list(re.compile(opts.pattern or "").groupindex)
            return _REGEX_DOCS, {"cap": cap, "pattern": opts.pattern, "names": names}
        text = chunk.text.to_pylist()
        short = [t if n <= cap else "" for t, n in zip(text, chunk.lengths)]
        docs, errors = logfmt_docs(short)
        con.register(
            "_docs",
            pa.table({"doc": pa.array(docs, pa.string()), "err": pa.array(errors, pa.string())}),
        )
        return _LOGFMT_DOCS, {"cap": cap}

    def _timed(self, parsed: pa.Table, now: datetime) -> pa.Table:
        """The lines whose timestamp is inside the window (the rest counted as refused); a line
        without a usable timestamp is stamped with the time it was read."""
        window = self.window(now)
        stamps = pc.fill_null(parsed.column("stamp_s"), window.now)
        kept = parsed.filter(check(stamps, None, window, self.refused))
        ts = timestamps(pc.fill_null(kept.column("stamp_s"), window.now))
        return kept.drop_columns(["stamp_s"]).add_column(0, "ts", ts).select(LOG_COLUMNS)
