"""`oncall query --promql`: PromQL on the store from the shell, shaped like Prometheus's API."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

T0 = 1_700_000_000  # epoch seconds of the first sample


@pytest.fixture
def workspace(tmp_path: Path) -> Path:
    (tmp_path / "oncall.yaml").write_text("store: s.duckdb\n")
    lines = []
    for k in range(11):  # a counter scraped every 30 s: +30 per scrape on 200, +3 on 500
        t = (T0 + 30 * k) * 1000
        lines += [f'req_total{{code="200"}} {30 * k} {t}', f'req_total{{code="500"}} {3 * k} {t}']
    (tmp_path / "m.prom").write_text("\n".join(lines) + "\n")
    return tmp_path


def test_an_instant_query_answers_as_prometheus_api(oncall, workspace: Path) -> None:
    assert oncall("import", "m.prom", cwd=workspace).returncode == 0
    at = "2023-11-14T22:18:20Z"  # T0 + 300 s: the last sample
    result = oncall(
        "query", "--promql", "sum(rate(req_total[5m]))", "--at", at, "--format", "json", cwd=workspace
    )
    assert result.returncode == 0, result.stderr
    body = json.loads(result.stdout)
    assert body["resultType"] == "vector"
    ((sample),) = body["result"]
    assert sample["metric"] == {} and sample["value"] == [T0 + 300, "1.1"]  # (30 + 3) / 30 s
    table = oncall("query", "--promql", 'req_total{code="500"} / 3', "--at", at, cwd=workspace)
    assert table.stdout.split() == ["SERIES", "VALUE", '{code="500"}', "10"]


def test_a_range_query_gives_each_step(oncall, workspace: Path) -> None:
    oncall("import", "m.prom", cwd=workspace)
    result = oncall(
        "query",
        "--promql",
        'req_total{code="200"}',
        "--from",
        "2023-11-14T22:13:20Z",
        "--to",
        "2023-11-14T22:15:20Z",
        "--step",
        "1m",
        "--format",
        "json",
        cwd=workspace,
    )
    assert result.returncode == 0, result.stderr
    ((series),) = json.loads(result.stdout)["result"]
    assert series["metric"] == {"__name__": "req_total", "code": "200"}
    assert series["values"] == [[T0, "0"], [T0 + 60, "60"], [T0 + 120, "120"]]


def test_bad_promql_is_one_line_with_exit_2(oncall, workspace: Path) -> None:
    oncall("import", "m.prom", cwd=workspace)
    result = oncall("query", "--promql", "sum(rate(req_total[5m])", cwd=workspace)
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1 and "bad PromQL" in result.stderr
    result = oncall(
        "query", "--promql", "req_total + on() req_total", "--at", "2023-11-14T22:18:20Z", cwd=workspace
    )
    assert result.returncode == 1 and "many-to-many matching not allowed" in result.stderr
