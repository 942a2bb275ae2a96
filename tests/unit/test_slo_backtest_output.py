"""`oncall slo backtest` output as a user reads it: JSON (compact or indented), CSV, the table."""

import csv
import io
import json
from datetime import datetime, timedelta

import numpy as np
import pandas as pd
import pytest

from console.cli.main import main
from console.store import Store, canonical_labels, ingest_samples
from tests.unit.test_slo_cli import NOW, workspace  # noqa: F401  (the fixture)

BURSTS = (
    (NOW - timedelta(hours=10), NOW - timedelta(hours=9)),
    (NOW - timedelta(hours=3), NOW - timedelta(hours=2)),
)


@pytest.fixture()
def two_bursts(tmp_path, monkeypatch):
    """`api` fails 30% of requests during two separate hours: two pages, no ticket."""
    (tmp_path / "oncall.yaml").write_text("store: s.duckdb\nslos: [slos.yaml]\n")
    (tmp_path / "slos.yaml").write_text(
        "slos:\n  - name: api\n    objective: 99\n    sli:\n      ratio:\n"
        "        bad: 'req_total{code=\"500\"}'\n        total: req_total\n"
    )
    times = [NOW - timedelta(days=4) + timedelta(minutes=i) for i in range(4 * 1440 + 1)]
    burning = np.array([any(a < t <= b for a, b in BURSTS) for t in times])
    bad = np.where(burning, 30, 0)
    with Store.open(tmp_path / "s.duckdb") as store:
        for code, inc in (("200", 100 - bad), ("500", bad)):
            frame = pd.DataFrame(
                {
                    "name": "req_total",
                    "labels": canonical_labels({"code": code}),
                    "ts": pd.to_datetime(times),
                    "value": np.cumsum(inc).astype(float),
                }
            )
            ingest_samples(store, frame)
    monkeypatch.setenv("ONCALL_NOW", NOW.isoformat() + "Z")
    return str(tmp_path)


def _run(capsys, root: str, *argv: str) -> str:
    assert main(["-w", root, "slo", "backtest", *argv]) == 0
    return capsys.readouterr().out


def _at(text: str) -> datetime:
    return datetime.fromisoformat(text.removesuffix("Z"))


def test_the_table_says_n_times(two_bursts, capsys):
    assert "would have paged 2 times, ticketed 0 times" in _run(
        capsys, two_bursts, "api", "--from", "now-12h"
    )


def test_the_table_says_once(workspace, capsys):  # noqa: F811
    assert "would have paged once, ticketed once" in _run(capsys, workspace, "api", "--from", "now-12h")


def test_json_gives_each_page_as_an_interval(two_bursts, capsys):
    (report,) = json.loads(_run(capsys, two_bursts, "api", "--from", "now-12h", "--format", "json"))
    assert report["would_page"] == 2 and report["tickets"] == [] and report["would_ticket"] == 0
    for page, (begin, end) in zip(report["pages"], BURSTS, strict=True):
        # 30% errors pass 14.4 × 1% over 1h within the first half hour; the 5m window clears
        # five minutes after the burst.
        assert begin < _at(page["from"]) <= begin + timedelta(minutes=30)
        assert end <= _at(page["to"]) < end + timedelta(minutes=5)


def test_page_union_merges_overlapping_conditions(workspace, capsys):  # noqa: F811
    (api, _idle) = json.loads(_run(capsys, workspace, "--all", "--from", "now-12h", "--format", "json"))
    held = [c["intervals"] for c in api["conditions"] if c["severity"] == "page"]
    assert all(len(intervals) == 1 for intervals in held) and len(held) == 2
    (page,) = api["pages"]
    assert page["from"] == min(i[0]["from"] for i in held) and page["to"] == max(i[0]["to"] for i in held)
    assert held[0][0] != held[1][0]  # two different intervals made one page


def test_json_is_compact_unless_indent_is_asked(workspace, capsys):  # noqa: F811
    compact = _run(capsys, workspace, "api", "--from", "now-1h", "--format", "json")
    indented = _run(capsys, workspace, "api", "--from", "now-1h", "--format", "json", "--indent")
    assert compact.count("\n") == 1 and indented.count("\n") > 100
    assert json.loads(compact) == json.loads(indented)
    assert "NaN" not in compact and "Infinity" not in compact


def test_csv_is_one_row_per_group_and_grid_point(workspace, capsys):  # noqa: F811
    text = _run(capsys, workspace, "--all", "--from", "now-12h", "--step", "5m", "--format", "csv")
    rows = list(csv.DictReader(io.StringIO(text)))
    report = json.loads(
        _run(capsys, workspace, "--all", "--from", "now-12h", "--step", "5m", "--format", "json")
    )
    points = 12 * 12 + 1
    assert len(rows) == 2 * points
    api = [r for r in rows if r["slo"] == "api"]
    idle = [r for r in rows if r["slo"] == "idle"]
    assert [r["time"] for r in api] == report[0]["times"]
    # Numbers a spreadsheet reads, equal to the JSON's; an empty cell where there is none.
    assert [float(r["error_ratio_1h"]) for r in api] == report[0]["windows"]["1h"]["error_ratio"]
    assert [float(r["burn_5m"]) for r in api] == pytest.approx(report[0]["windows"]["5m"]["burn"])
    assert {(r["error_ratio_1h"], r["status_1h"]) for r in idle} == {("", "no traffic")}
    # page is 1 exactly at the points of the page union.
    paging = [r["time"] for r in api if r["page"] == "1"]
    (page,) = report[0]["pages"]
    assert paging[0] == page["from"] and paging[-1] == page["to"] and len(paging) > 1
    assert {r["ticket"] for r in idle} == {"0"}


def test_a_backtest_process_imports_neither_pandas_nor_pyarrow(workspace):  # noqa: F811
    """pyarrow's first array imports pandas: 0.15 s of a backtest process that uses neither."""
    import subprocess
    import sys
    from pathlib import Path

    code = (
        "import sys, io, contextlib\n"
        "from console.cli.main import main\n"
        "with contextlib.redirect_stdout(io.StringIO()) as out:\n"
        f"    code = main(['-w', {workspace!r}, 'slo', 'backtest', '--all', '--from', 'now-6h', "
        "'--format', 'json'])\n"
        "assert code == 0 and out.getvalue().startswith('[{')\n"
        "print(' '.join(sorted(m for m in ('pandas', 'pyarrow') if m in sys.modules)))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, cwd=Path(__file__).parents[2]
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == ""


def test_indent_without_json_is_a_usage_error(workspace, capsys):  # noqa: F811
    with pytest.raises(SystemExit) as caught:
        main(["-w", workspace, "slo", "backtest", "api", "--format", "csv", "--indent"])
    assert caught.value.code == 2 and "--indent is for --format json" in capsys.readouterr().err
