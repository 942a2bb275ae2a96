"""`oncall import`: backfill the store from files.

Formats: Prometheus text / OpenMetrics with timestamps, JSON-lines logs, CSV or
Parquet samples.  Lines are parsed in bulk (Arrow + DuckDB; exposition text see
console/store/import_text.py), committed in batches together with the file's cursor, and
every skipped line is counted with its reason.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from pathlib import Path

import duckdb
import pyarrow as pa

from console.store import Store, canonical_labels, ingest_logs, ingest_samples
from console.store.import_lines import ImportFailed, ImportReport, detect_format, file_identity, line_batches
from console.store.import_text import Chunk, FastParser, Samples, lines_table, parse_lines, text_chunks
from console.store.rows import scalar
from console.store.sample_batch import SeriesIds, append_samples

__all__ = ["BATCH_LINES", "ImportFailed", "ImportReport", "import_file"]

BATCH_LINES = 4 * 122_880  # whole DuckDB row groups per batch: no partly filled one to merge (and free) later


class _Importer:
    def __init__(
        self,
        store: Store,
        path: Path,
        report: ImportReport,
        now: datetime,
        batch_lines: int,
        on_batch: Callable[[ImportReport], None] | None,
    ) -> None:
        self.store, self.path, self.report, self.now = store, path, report, now
        self.on_batch = on_batch
        self.batch_lines = batch_lines
        self.cursor_name = f"import:{path}"
        self.parser = duckdb.connect(config={"autoinstall_known_extensions": False})
        self.parser.execute("SET TimeZone = 'UTC'")

    def start_line(self) -> int:
        cursor = self.store.get_cursor(self.cursor_name)
        identity = file_identity(self.path)
        if cursor and cursor.get("head") == identity["head"]:
            return int(cursor.get("line", 0))
        return 0

    def cursor(self, line: int) -> tuple[str, dict]:
        return self.cursor_name, {**file_identity(self.path), "line": line}

    def _record_skips(self, rows: list[tuple[int, str]]) -> None:
        for lineno, reason in rows:
            self.report.skip(lineno, reason)

    def _committed(self) -> None:
        if self.on_batch is not None:
            self.on_batch(self.report)

    def run_text(self, seconds: bool) -> None:
        """Import exposition text: chunks of `batch_lines` lines, each parsed (the next one
        in a second thread meanwhile) and committed with the file's cursor."""
        start = self.start_line()
        self.report.resumed_at = start
        fast = FastParser(seconds)
        label_cache: dict[str, str | Exception] = {"": canonical_labels({})}
        ids = SeriesIds()
        chunks = text_chunks(self.path, start, self.batch_lines)

        def parse_next() -> tuple[Chunk, Samples | None] | None:
            chunk = next(chunks, None)
            return None if chunk is None else (chunk, fast.parse(chunk))

        with ThreadPoolExecutor(1, thread_name_prefix="import-parse") as pool:
            pending = pool.submit(parse_next)
            while (parsed := pending.result()) is not None:
                pending = pool.submit(parse_next)
                chunk, samples = parsed
                if samples is None:
                    try:
                        lines = lines_table(chunk)
                    except UnicodeDecodeError as exc:
                        line = chunk.first + chunk.data[: exc.start].count(b"\n")
                        raise ImportFailed(
                            f"{self.path}:{line}: "
                            "cannot read as text lines (not UTF-8); convert the file to UTF-8"
                        ) from None
                    skips, samples = parse_lines(self.parser, lines, fast.scale, label_cache)
                    self._record_skips(skips)
                self.report.lines = chunk.last
                self.report.added += append_samples(
                    self.store,
                    samples.series,
                    samples.index,
                    samples.ts_us,
                    samples.values,
                    ids=ids,
                    cursor=self.cursor(chunk.last),
                    now=self.now,
                )
                self._committed()

    def run(self, fmt: str) -> None:
        """Import the file as `fmt`; ImportFailed for a format there is no reader for."""
        if fmt in ("prometheus", "openmetrics"):
            self.run_text(seconds=fmt == "openmetrics")
        elif fmt == "jsonl":
            self.run_jsonl()
        elif fmt in ("csv", "parquet"):
            self.run_table(fmt)
        else:
            raise ImportFailed(f"{self.path}: unknown format {fmt!r}")

    def run_jsonl(self) -> None:
        start = self.start_line()
        self.report.resumed_at = start
        self.report.kind = "logs"
        known = (
            "'ts','time','timestamp','@timestamp','level','severity','lvl','service','app','message','msg'"
        )
        for batch in line_batches(self.path, start, self.batch_lines):
            self.report.lines = int(batch.column("lineno")[-1].as_py())
            p = self.parser
            p.register("lines", batch)
            p.execute("""
                CREATE OR REPLACE TEMP TABLE parsed AS
                SELECT lineno, line, CASE WHEN json_valid(line) AND json_type(line::JSON) = 'OBJECT'
                                          THEN line::JSON END AS j
                FROM lines WHERE trim(line) <> ''
            """)
            p.execute("""
                CREATE OR REPLACE TEMP TABLE typed AS
                SELECT lineno, line, j,
                       coalesce(j->'ts', j->'time', j->'timestamp', j->'@timestamp') AS ts_json
                FROM parsed
            """)
            p.execute("""
                CREATE OR REPLACE TEMP TABLE stamped AS
                SELECT *, CASE
                    WHEN json_type(ts_json) IN ('BIGINT', 'UBIGINT', 'DOUBLE') THEN
                        CASE WHEN ts_json::DOUBLE > 1e14 THEN make_timestamp(ts_json::DOUBLE::BIGINT)
                             WHEN ts_json::DOUBLE > 1e11 THEN make_timestamp((ts_json::DOUBLE * 1000)::BIGINT)
                             ELSE make_timestamp((ts_json::DOUBLE * 1e6)::BIGINT) END
                    WHEN json_type(ts_json) = 'VARCHAR' THEN
                        TRY_CAST(ts_json->>'$' AS TIMESTAMPTZ)::TIMESTAMP
                    END AS ts
                FROM typed
            """)
            skips = p.execute("""
                SELECT lineno, CASE WHEN j IS NULL THEN 'not a JSON object: ' || left(line, 60)
                                    WHEN ts_json IS NULL THEN 'no ts/time/timestamp field'
                                    ELSE 'bad timestamp: ' || left(ts_json::VARCHAR, 40) END
                FROM stamped WHERE ts IS NULL ORDER BY lineno
            """).fetchall()
            logs = p.sql(
                f"""
                SELECT ts, ? AS source,
                       coalesce(j->>'service', j->>'app') AS service,
                       lower(coalesce(j->>'level', j->>'severity', j->>'lvl')) AS level,
                       coalesce(j->>'message', j->>'msg') AS message,
                       to_json(map_from_entries(list_filter(
                           map_entries(CAST(j AS MAP(VARCHAR, JSON))),
                           lambda e: e.key NOT IN ({known}))))::VARCHAR AS attributes,
                       line AS raw, NULL::VARCHAR AS parse_error, ? AS origin,
                       lineno AS line_offset
                FROM stamped WHERE ts IS NOT NULL
            """,
                params=["import", str(self.path)],
            ).to_arrow_table()
            self._record_skips(skips)
            self.report.added += ingest_logs(
                self.store, logs, cursor=self.cursor(self.report.lines), now=self.now
            )
            self._committed()

    def run_table(self, fmt: str) -> None:
        reader = "read_parquet(?)" if fmt == "parquet" else "read_csv(?, header = true, all_varchar = true)"
        first_line = 2 if fmt == "csv" else 1
        self._stage_table(fmt, reader, first_line)
        start = self.start_line()
        self.report.resumed_at = start
        total = scalar(self.parser.execute("SELECT count(*) FROM src"))
        self.report.lines = total + first_line - 1
        label_cache: dict[tuple[str | None, str], str | Exception] = {}
        for offset in range(max(0, start - first_line + 1), total, self.batch_lines):
            self._table_batch(offset, label_cache)

    def _stage_table(self, fmt: str, reader: str, first_line: int) -> None:
        """The file's rows as table `src`: line number, name, labels, timestamp and value text."""
        try:
            rel = self.parser.execute(f"SELECT * FROM {reader} LIMIT 0", [str(self.path)])
        except duckdb.Error as exc:
            raise ImportFailed(f"{self.path}: cannot read {fmt}: {str(exc).splitlines()[0]}") from None
        columns = [d[0] for d in rel.description]
        name_col, ts_col, value_col, labels_col = self._table_roles(columns)
        label_cols = [c for c in columns if c not in (name_col, ts_col, value_col, labels_col)]
        extra = ", ".join(f"'{c.replace(chr(39), chr(39) * 2)}', {_quoted(c)}::VARCHAR" for c in label_cols)
        labels_json = _quoted(labels_col) + "::VARCHAR" if labels_col else "NULL::VARCHAR"
        column_labels = ("json_object(" + extra + ")::VARCHAR") if extra else "'{}'"
        self.parser.execute(
            f"""
            CREATE OR REPLACE TEMP TABLE src AS
            SELECT row_number() OVER () - 1 + {first_line} AS lineno,
                   {_quoted(name_col)}::VARCHAR AS name,
                   {labels_json} AS labels_json,
                   {column_labels} AS column_labels,
                   {_quoted(ts_col)}::VARCHAR AS ts_text, {_quoted(value_col)}::VARCHAR AS value_text
            FROM {reader}
        """,
            [str(self.path)],
        )

    def _table_roles(self, columns: list[str]) -> tuple[str, str, str, str | None]:
        """The name, ts, value and (optional) labels columns, matched case-insensitively under their aliases."""
        lower = {c.lower(): c for c in columns}

        def pick(*names: str) -> str | None:
            return next((lower[n] for n in names if n in lower), None)

        name_col, ts_col, value_col = (
            pick("name", "metric", "__name__"),
            pick("ts", "timestamp", "time"),
            pick("value"),
        )
        if not (name_col and ts_col and value_col):
            raise ImportFailed(
                f"{self.path}: needs columns name (or metric), ts (or timestamp) "
                f"and value; found {', '.join(columns)}"
            )
        return name_col, ts_col, value_col, pick("labels")

    def _table_batch(self, offset: int, label_cache: dict[tuple[str | None, str], str | Exception]) -> None:
        """Import the `batch_lines` rows of `src` from `offset`, and commit them."""
        p = self.parser
        p.execute(f"""
            CREATE OR REPLACE TEMP TABLE typed AS
            SELECT lineno, name, labels_json, column_labels, TRY_CAST(value_text AS DOUBLE) AS value, value_text,
                   ts_text, coalesce(
                       TRY_CAST(ts_text AS TIMESTAMPTZ)::TIMESTAMP,
                       CASE WHEN TRY_CAST(ts_text AS DOUBLE) > 1e11
                            THEN make_timestamp((TRY_CAST(ts_text AS DOUBLE) * 1000)::BIGINT)
                            ELSE make_timestamp((TRY_CAST(ts_text AS DOUBLE) * 1e6)::BIGINT) END) AS ts
            FROM src ORDER BY lineno LIMIT {self.batch_lines} OFFSET {offset}
        """)
        for key in p.execute("SELECT DISTINCT labels_json, column_labels FROM typed").fetchall():
            if key not in label_cache:
                label_cache[key] = _row_labels(*key)
        good = [(k[0], k[1], v) for k, v in label_cache.items() if isinstance(v, str)]
        bad = [(k[0], k[1], str(v)) for k, v in label_cache.items() if not isinstance(v, str)]
        p.register(
            "label_map", pa.table(list(map(list, zip(*good))) or [[], [], []], schema=_map_schema("labels"))
        )
        p.register("bad_map", pa.table(list(map(list, zip(*bad))) or [[], [], []], schema=_map_schema("why")))
        skips = p.execute("""
            SELECT t.lineno, CASE WHEN t.name IS NULL OR t.name = '' THEN 'no metric name'
                WHEN b.why IS NOT NULL THEN 'bad labels: ' || b.why
                WHEN t.value IS NULL THEN 'value is not a number: ' || coalesce(left(t.value_text, 30), 'empty')
                ELSE 'bad timestamp: ' || coalesce(left(t.ts_text, 30), 'empty') END
            FROM typed t LEFT JOIN bad_map b
              ON b.lj IS NOT DISTINCT FROM t.labels_json AND b.cl = t.column_labels
            WHERE t.name IS NULL OR t.name = '' OR b.why IS NOT NULL OR t.value IS NULL OR t.ts IS NULL
            ORDER BY t.lineno
        """).fetchall()
        samples = p.sql("""
            SELECT t.name, l.labels, t.ts, t.value FROM typed t JOIN label_map l
              ON l.lj IS NOT DISTINCT FROM t.labels_json AND l.cl = t.column_labels
            WHERE t.name <> '' AND t.value IS NOT NULL AND t.ts IS NOT NULL
        """).to_arrow_table()
        last = scalar(p.execute("SELECT max(lineno) FROM typed"))
        self._record_skips(skips)
        self.report.added += ingest_samples(self.store, samples, cursor=self.cursor(last), now=self.now)
        self._committed()


def _quoted(column: str) -> str:
    return '"' + column.replace('"', '""') + '"'


def _map_schema(column: str) -> pa.Schema:
    return pa.schema([("lj", pa.string()), ("cl", pa.string()), (column, pa.string())])


def _row_labels(labels_json: str | None, column_labels: str) -> str | Exception:
    """A row's canonical labels (its label columns, then its `labels` JSON), or why not."""
    try:
        merged = json.loads(column_labels)
        merged = {k: v for k, v in merged.items() if v is not None}
        if labels_json:
            extra_labels = json.loads(labels_json)
            if not isinstance(extra_labels, dict):
                raise ValueError("labels must be a JSON object")
            merged.update(extra_labels)
        return canonical_labels(merged)
    except ValueError as exc:
        return exc


def import_file(
    store: Store,
    path: str | os.PathLike[str],
    *,
    now: datetime,
    fmt: str | None = None,
    batch_lines: int = BATCH_LINES,
    on_batch: Callable[[ImportReport], None] | None = None,
) -> ImportReport:
    """Import one file into the store; resumes where an interrupted import of it stopped.

    `on_batch` is called after each batch and its cursor are committed.
    """
    path = Path(path).resolve()
    if not path.is_file():
        raise ImportFailed(f"{path}: no such file")
    fmt = fmt or detect_format(path)
    report = ImportReport(path=path, fmt=fmt)
    importer = _Importer(store, path, report, now, batch_lines, on_batch)
    try:
        importer.run(fmt)
    except pa.ArrowInvalid as exc:
        raise ImportFailed(
            f"{path}: cannot read as text lines ({str(exc).splitlines()[0]}); is it UTF-8?"
        ) from None
    finally:
        importer.parser.close()
    return report
