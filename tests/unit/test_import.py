"""`oncall import`: formats, counts, skipped lines with reasons, idempotence."""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from console.store import Store
from console.store.importer import import_file

PROM = """\
# HELP http_requests_total Requests.
# TYPE http_requests_total counter
http_requests_total{code="200",path="/a b"} 10 1700000000000
http_requests_total{path="/a b",code="200"} 12 1700000015000
http_requests_total{code="500",path="/x"} 1 1700000000000
up 1 1700000000000
this is not a sample
http_requests_total{code="200"} NaN-ish 1700000000000
http_requests_total{code="200",code="201"} 3 1700000000000
up 1
"""


@pytest.fixture
def store(tmp_path: Path):
    with Store.open(tmp_path / "s.duckdb") as store:
        yield store


def series_values(store: Store) -> list[tuple]:
    return store.query("""
        SELECT s.name, s.labels, epoch_ms(x.ts), x.value FROM samples x
        JOIN series s ON s.id = x.series_id ORDER BY 1, 2, 3""")[1]


def test_prometheus_text(store: Store, tmp_path: Path, now: datetime) -> None:
    path = tmp_path / "m.prom"
    path.write_text(PROM)
    report = import_file(store, path, now=now)
    assert (report.fmt, report.added, report.skipped) == ("prometheus", 4, 4)
    assert report.skips == [
        (7, "not a sample line: this is not a sample"),
        (8, "value is not a number: NaN-ish"),
        (9, "label 'code' given twice"),
        (10, "no timestamp (import needs one per sample)"),
    ]
    assert series_values(store) == [
        ("http_requests_total", '{"code":"200","path":"/a b"}', 1700000000000, 10.0),
        ("http_requests_total", '{"code":"200","path":"/a b"}', 1700000015000, 12.0),
        ("http_requests_total", '{"code":"500","path":"/x"}', 1700000000000, 1.0),
        ("up", "{}", 1700000000000, 1.0),
    ]


def test_openmetrics_timestamps_are_seconds(store: Store, tmp_path: Path, now: datetime) -> None:
    path = tmp_path / "m.om"
    path.write_text(
        '# TYPE rps gauge\nrps{a="1"} 2.5 1700000000.5 # {trace_id="x"} 1 1\n'
        'rps{a="1"} +Inf 1700000001\n# EOF\n'
    )
    report = import_file(store, path, now=now)
    assert (report.fmt, report.added, report.skipped) == ("openmetrics", 2, 0)
    assert series_values(store) == [
        ("rps", '{"a":"1"}', 1700000000500, 2.5),
        ("rps", '{"a":"1"}', 1700000001000, float("inf")),
    ]


def test_importing_twice_leaves_the_same_counts(store: Store, tmp_path: Path, now: datetime) -> None:
    prom = tmp_path / "m.prom"
    prom.write_text(PROM)
    logs = tmp_path / "app.jsonl"
    logs.write_text(
        json.dumps(
            {"ts": "2026-11-20T10:00:00Z", "level": "ERROR", "msg": "boom", "service": "api", "user": 7}
        )
        + "\n{broken\n"
    )
    for _ in range(2):
        import_file(store, prom, now=now)
        import_file(store, logs, now=now)
    assert (store.count("samples"), store.count("series"), store.count("logs")) == (4, 3, 1)
    # a file that changed is read again; rows already stored are still not duplicated
    prom.write_text(PROM + "up 0 1700000030000\n")
    report = import_file(store, prom, now=now)
    assert report.added == 1
    assert store.count("samples") == 5


def test_jsonl_logs(store: Store, tmp_path: Path, now: datetime) -> None:
    path = tmp_path / "app.jsonl"
    path.write_text(
        "\n".join(
            [
                json.dumps(
                    {
                        "ts": "2026-11-20T10:00:00+01:00",
                        "level": "ERROR",
                        "msg": "timeout",
                        "service": "api",
                        "user": 7,
                    }
                ),
                "not json",
                json.dumps({"time": 1763632800, "severity": "info", "message": "ok", "app": "web"}),
                json.dumps({"level": "info", "message": "no time"}),
                json.dumps([1, 2]),
                "",
            ]
        )
        + "\n"
    )
    report = import_file(store, path, now=now)
    assert (report.fmt, report.kind, report.added, report.skipped) == ("jsonl", "logs", 2, 3)
    assert [line for line, _ in report.skips] == [2, 4, 5]
    assert "not a JSON object" in report.skips[0][1]
    assert report.skips[1][1] == "no ts/time/timestamp field"
    rows = store.query("SELECT ts, level, service, message, attributes FROM logs ORDER BY ts")[1]
    assert rows == [
        (datetime(2025, 11, 20, 10, 0), "info", "web", "ok", "{}"),
        (datetime(2026, 11, 20, 9, 0), "error", "api", "timeout", '{"user":7}'),
    ]


def test_csv_samples_with_label_columns(store: Store, tmp_path: Path, now: datetime) -> None:
    path = tmp_path / "s.csv"
    path.write_text(
        "name,ts,value,region\n"
        "temp,2026-11-20T10:00:00Z,1.5,eu\n"
        "temp,2026-11-20T10:01:00Z,oops,eu\n"
        "temp,1763632920,2.5,us\n"
    )
    report = import_file(store, path, now=now)
    assert (report.fmt, report.added, report.skipped) == ("csv", 2, 1)
    assert report.skips == [(3, "value is not a number: oops")]
    assert [r[1] for r in series_values(store)] == ['{"region":"eu"}', '{"region":"us"}']
    assert import_file(store, path, now=now).added == 0


def test_parquet_samples_with_json_labels(store: Store, tmp_path: Path, now: datetime) -> None:
    path = tmp_path / "s.parquet"
    pq.write_table(
        pa.table(
            {
                "metric": ["lat", "lat"],
                "labels": ['{"q":"0.99"}', '{"q":"0.5"}'],
                "timestamp": [datetime(2026, 11, 20, 10), datetime(2026, 11, 20, 10)],
                "value": [0.3, 0.1],
            }
        ),
        path,
    )
    report = import_file(store, path, now=now)
    assert (report.fmt, report.added, report.skipped) == ("parquet", 2, 0)
    assert [r[1] for r in series_values(store)] == ['{"q":"0.5"}', '{"q":"0.99"}']


def test_cli_prints_counts_and_first_skips(oncall, tmp_path: Path) -> None:
    (tmp_path / "oncall.yaml").write_text("store: s.duckdb\n")
    path = tmp_path / "m.prom"
    path.write_text(PROM)
    result = oncall("import", str(path), cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "4 samples added, 4 skipped" in result.stdout
    assert "m.prom:9: label 'code' given twice" in result.stdout
    result = oncall("import", str(tmp_path / "missing.prom"), cwd=tmp_path)
    assert result.returncode == 1
    assert "no such file" in result.stdout
    assert "Traceback" not in result.stdout + result.stderr
