"""A /metrics page with timestamps of 1e25, hours ahead and in 1969, and values that do not
parse: `collect --once` keeps the valid samples (NaN and +Inf are values), counts the rest by
reason in the source's health, writes `up`, and never shows a traceback."""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path

import pytest

from console.store import Store
from tests.conftest import run_oncall
from tests.local_http import serve

NOW = datetime(2026, 11, 26, 12, 0)
NOW_MS = int((NOW - datetime(1970, 1, 1)).total_seconds() * 1000)
HOUR_MS = 3_600_000

TEXT_PAGE = f"""# HELP jobs Jobs.
# TYPE jobs gauge
jobs{{case="now"}} 1
jobs{{case="stamped",note="a b }} c"}} 2 {NOW_MS - 60_000}
jobs{{case="nan"}} NaN
jobs{{case="inf"}} +Inf {NOW_MS}
jobs{{case="1e25"}} 5 1e25
jobs{{case="ahead"}} 6 {NOW_MS + 2 * HOUR_MS}
jobs{{case="ahead2"}} 7 {NOW_MS + 2 * HOUR_MS}
jobs{{case="1969"}} 8 -1000
jobs{{case="word"}} abc
"""
# OpenMetrics timestamps are seconds; the page ends with # EOF.
OPENMETRICS_PAGE = f"""# TYPE jobs gauge
jobs{{case="now"}} 1
jobs{{case="stamped",note="a b }} c"}} 2 {NOW_MS / 1000 - 60}
jobs{{case="nan"}} NaN
jobs{{case="inf"}} +Inf {NOW_MS / 1000}
jobs{{case="1e25"}} 5 1e25
jobs{{case="ahead"}} 6 {NOW_MS / 1000 + 7200}
jobs{{case="ahead2"}} 7 {NOW_MS / 1000 + 7200}
jobs{{case="1969"}} 8 -1
jobs{{case="word"}} abc
# EOF
"""
# (page, content type, how far ahead 1e25 is: milliseconds in the text format, seconds in OpenMetrics)
PAGES = {
    "text": (TEXT_PAGE, "text/plain; version=0.0.4", "3.2e+14y"),
    "openmetrics": (OPENMETRICS_PAGE, "application/openmetrics-text; version=1.0.0", "3.2e+17y"),
}


def workspace(tmp_path: Path, url: str, extra: str = "") -> Path:
    (tmp_path / "oncall.yaml").write_text(
        f"store: store.duckdb\nsources:\n  - {{name: node, kind: scrape, url: '{url}/metrics'{extra}}}\n"
    )
    return tmp_path


def stored(tmp_path: Path) -> dict[tuple[str, str], tuple[datetime, float]]:
    with Store.open_read(tmp_path / "store.duckdb") as store:
        rows = store.query(
            "SELECT s.name, s.labels, x.ts, x.value FROM samples x JOIN series s ON s.id = x.series_id"
        )[1]
    return {(name, json.loads(labels).get("case", "")): (ts, value) for name, labels, ts, value in rows}


@pytest.mark.parametrize("shape", sorted(PAGES))
def test_only_valid_samples_are_stored_and_the_rest_counted_by_reason(tmp_path: Path, shape: str) -> None:
    page, kind, farthest = PAGES[shape]
    ahead = f"node: 3 refused: timestamp 2h to {farthest} in the future (limit 10m)"
    with serve(lambda path: (200, page.encode(), kind)) as url:
        ws = workspace(tmp_path, url)
        run = run_oncall("-w", str(ws), "collect", "--once", env={"ONCALL_NOW": "2026-11-26T12:00:00Z"})
    assert run.returncode == 0, run.stdout + run.stderr
    assert "Traceback" not in run.stderr + run.stdout and run.stderr == ""
    assert ahead in run.stdout
    assert "node: 1 refused: timestamp 57y in the past (limit 3650d)" in run.stdout
    assert "node: 1 refused: value does not parse" in run.stdout

    samples = stored(tmp_path)
    jobs = {case: value for (name, case), value in samples.items() if name == "jobs"}
    assert sorted(jobs) == ["inf", "nan", "now", "stamped"]
    assert jobs["now"] == (NOW, 1.0)
    assert jobs["stamped"] == (datetime(2026, 11, 26, 11, 59), 2.0)
    assert jobs["inf"][1] == float("inf") and jobs["nan"][1] != jobs["nan"][1]  # NaN kept
    assert samples[("up", "")] == (NOW, 1.0)
    assert samples[("oncall_collector_up", "")] == (NOW, 1.0)
    assert samples[("scrape_samples_scraped", "")][1] == 9.0  # every sample on the page

    status = run_oncall("-w", str(ws), "collect", "--status", "--format", "json")
    assert status.returncode == 0, status.stderr
    source = json.loads(status.stdout)[0]
    assert source["health"] == "healthy"
    assert {(e["what"], e["why"]): e["count"] for e in source["refused"]["last_run"]} == {
        ("timestamp", "future"): 3,
        ("timestamp", "past"): 1,
        ("value", "unparsed"): 1,
    }
    assert source["refused"]["total"] == {"timestamp future": 3, "timestamp past": 1, "value unparsed": 1}
    table = run_oncall("-w", str(ws), "collect", "--status").stdout.splitlines()
    assert table[0].split()[-1] == "REFUSED" and table[1].split()[-1] == "5"
    assert table[2:] == [
        ahead,
        "node: 1 refused: timestamp 57y in the past (limit 3650d)",
        "node: 1 refused: value does not parse",
    ]


def test_the_window_comes_from_retention_or_the_source_and_totals_add_up(tmp_path: Path) -> None:
    minutes_ago = NOW_MS - 20 * 60_000
    days_ago = NOW_MS - 3 * 86_400_000
    page = (
        f'a{{case="20m"}} 1 {minutes_ago}\na{{case="3d"}} 2 {days_ago}\n'
        f'a{{case="5m ahead"}} 3 {NOW_MS + 5 * 60_000}\n'
    )
    with serve(lambda path: (200, page.encode(), "text/plain")) as url:
        ws = workspace(tmp_path, url)
        (ws / "oncall.yaml").write_text((ws / "oncall.yaml").read_text() + "retention: {samples: 1}\n")
        run = run_oncall(
            "-w", str(ws), "collect", "--once", "--format", "json", env={"ONCALL_NOW": "2026-11-26T12:00:00Z"}
        )
        assert run.returncode == 0, run.stderr
        assert [e["text"] for e in json.loads(run.stdout)[0]["refused"]] == [
            "1 refused: timestamp 3d in the past (limit 1d)"
        ]
        assert sorted(c for (n, c) in stored(tmp_path) if n == "a") == ["20m", "5m ahead"]

        # The source's own window wins over retention: 10m back, nothing ahead.
        ws = workspace(tmp_path, url, ", accept: {past: 10m, future: 0s}")
        run = run_oncall(
            "-w", str(ws), "collect", "--once", "--format", "json", env={"ONCALL_NOW": "2026-11-26T12:01:00Z"}
        )
    assert run.returncode == 0, run.stderr
    assert [e["text"] for e in json.loads(run.stdout)[0]["refused"]] == [
        "1 refused: timestamp 4m in the future (limit 0s)",
        "2 refused: timestamp 21m to 3d in the past (limit 10m)",
    ]
    status = json.loads(run_oncall("-w", str(ws), "collect", "--status", "--format", "json").stdout)[0]
    assert status["refused"]["total"] == {"timestamp past": 3, "timestamp future": 1}


def test_a_bad_accept_option_is_a_configuration_error_with_its_line(tmp_path: Path) -> None:
    ws = workspace(tmp_path, "http://127.0.0.1:9", ", accept: {past: soon}")
    run = run_oncall("-w", str(ws), "collect", "--once")
    assert run.returncode == 2
    assert "oncall.yaml:3" in run.stderr and "not a duration" in run.stderr
    assert "Traceback" not in run.stderr
