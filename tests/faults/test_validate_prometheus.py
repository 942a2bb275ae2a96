"""query_range answers with timestamps of 1e25, hours ahead, in 1969 or not numbers, and
values that do not parse: `collect --once` keeps the valid points (NaN and +Inf are values),
counts the rest by reason, writes `up`, and never shows a traceback; an answer that is not a
matrix of series is a soft failure, said in one line."""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path
from typing import Any

from console.store import Store
from tests.conftest import run_oncall
from tests.local_http import serve

NOW = datetime(2026, 11, 26, 12, 0)
NOW_S = (NOW - datetime(1970, 1, 1)).total_seconds()
ENV = {"ONCALL_NOW": "2026-11-26T12:00:00Z"}


def answer(result: Any) -> tuple[int, bytes, str]:
    body = {"status": "success", "data": {"resultType": "matrix", "result": result}}
    return 200, json.dumps(body).encode(), "application/json"


POINTS = [
    [NOW_S - 120, "1"],
    [NOW_S - 60, "NaN"],
    [NOW_S, "+Inf"],  # kept
    [1e25, "2"],
    [NOW_S + 7200, "3"],  # ahead
    [-1, "4"],  # 1969
    ["soon", "5"],  # not a time
    [NOW_S - 180, "abc"],
    [NOW_S - 240, None],
    [NOW_S - 300, {"x": 1}],  # not numbers
]


def workspace(tmp_path: Path, sources: dict[str, str]) -> Path:
    lines = ["store: store.duckdb", "sources:"]
    lines += [
        f"  - {{name: {name}, kind: prometheus, url: '{url}', queries: [jobs]}}"
        for name, url in sources.items()
    ]
    (tmp_path / "oncall.yaml").write_text("\n".join(lines) + "\n")
    return tmp_path


def test_only_valid_points_are_stored_and_the_rest_counted(tmp_path: Path) -> None:
    series = [{"metric": {"__name__": "jobs", "queue": "a"}, "values": POINTS}]
    with (
        serve(lambda path: answer(series)) as good,
        serve(lambda path: answer([{"metric": {}, "values": "nope"}])) as broken,
    ):
        ws = workspace(tmp_path, {"prom": good, "odd": broken})
        run = run_oncall("-w", str(ws), "collect", "--once", "--format", "json", env=ENV)
    assert "Traceback" not in run.stdout + run.stderr and run.stderr == ""
    assert run.returncode == 1  # `odd` failed, softly
    outcomes = {o["name"]: o for o in json.loads(run.stdout)}
    assert outcomes["prom"]["ok"] and outcomes["prom"]["rows"] == 3
    assert not outcomes["odd"]["ok"]
    assert outcomes["odd"]["error"].endswith(
        "/api/v1/query_range: malformed series in the answer for 'jobs' "
        "(TypeError: values is str, not a list)"
    )
    assert [e["text"] for e in outcomes["prom"]["refused"]] == [
        "2 refused: timestamp 2h to 3.2e+17y in the future (limit 10m)",
        "1 refused: timestamp 57y in the past (limit 3650d)",
        "1 refused: timestamp does not parse",
        "3 refused: value does not parse",
    ]

    with Store.open_read(tmp_path / "store.duckdb") as store:
        rows = store.query(
            "SELECT s.name, s.labels, x.ts, x.value FROM samples x "
            "JOIN series s ON s.id = x.series_id ORDER BY s.name, x.ts"
        )[1]
    jobs = [(ts, value) for name, _, ts, value in rows if name == "jobs"]
    assert [ts for ts, _ in jobs] == [datetime(2026, 11, 26, 11, 58), datetime(2026, 11, 26, 11, 59), NOW]
    assert jobs[0][1] == 1.0 and jobs[1][1] != jobs[1][1] and jobs[2][1] == float("inf")
    up = {
        json.loads(labels)["collector"]: value
        for name, labels, _, value in rows
        if name == "oncall_collector_up"
    }
    assert up == {"prom": 1.0, "odd": 0.0}

    status = {
        s["source"]: s
        for s in json.loads(run_oncall("-w", str(ws), "collect", "--status", "--format", "json").stdout)
    }
    assert status["prom"]["health"] == "healthy"
    assert status["prom"]["refused"]["total"] == {
        "timestamp future": 2,
        "timestamp past": 1,
        "timestamp unparsed": 1,
        "value unparsed": 3,
    }
    assert status["odd"]["health"] == "UNHEALTHY" and status["odd"]["refused"]["last_run"] == []


def test_a_second_run_with_nothing_refused_clears_the_last_run_but_keeps_totals(tmp_path: Path) -> None:
    answers = [
        [{"metric": {"__name__": "jobs"}, "values": [[NOW_S - 60, "1"], [NOW_S + 7200, "x"]]}],
        [{"metric": {"__name__": "jobs"}, "values": [[NOW_S + 60, "2"]]}],
    ]
    calls: list[str] = []

    def route(path: str) -> tuple[int, bytes, str]:
        calls.append(path)  # one request a run
        return answer(answers[min(len(calls), 2) - 1])

    with serve(route) as url:
        ws = workspace(tmp_path, {"prom": url})
        first = run_oncall("-w", str(ws), "collect", "--once", "--format", "json", env=ENV)
        second = run_oncall(
            "-w", str(ws), "collect", "--once", "--format", "json", env={"ONCALL_NOW": "2026-11-26T12:01:00Z"}
        )
    assert [e["text"] for e in json.loads(first.stdout)[0]["refused"]] == [
        "1 refused: timestamp 2h in the future (limit 10m)"
    ]
    assert json.loads(second.stdout)[0]["refused"] == []
    status = json.loads(run_oncall("-w", str(ws), "collect", "--status", "--format", "json").stdout)[0]
    assert status["refused"] == {"last_run": [], "total": {"timestamp future": 1}}


def test_the_consoles_engine_keeps_refusals_with_health_too(tmp_path: Path) -> None:
    """The console runs collectors in its engine tick, not `collect --once`: same counts."""
    from console.config.workspace import load_workspace
    from console.runtime.engine import Engine

    series = [{"metric": {"__name__": "jobs"}, "values": [[NOW_S, "1"], [1e25, "2"], [-1, "x"]]}]
    with serve(lambda path: answer(series)) as url:
        ws = load_workspace(workspace(tmp_path, {"prom": url}) / "oncall.yaml")
        with Store.open(tmp_path / "store.duckdb") as store:
            Engine(ws, store, rules=[]).tick(NOW)
            raw = store.query("SELECT healthy, refused FROM collector_state WHERE name = 'prom'")[1]
            assert store.count("samples") == 2  # the one kept, and the source's `up`
    healthy, refused = raw[0]
    assert healthy and [e["text"] for e in json.loads(refused)["last"]] == [
        "1 refused: timestamp 3.2e+17y in the future (limit 10m)",
        "1 refused: timestamp 57y in the past (limit 3650d)",
    ]
