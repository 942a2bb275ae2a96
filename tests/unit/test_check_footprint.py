"""`oncall check` shows what the store costs: its size, bytes per sample, rows per table."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest


@pytest.fixture
def workspace(tmp_path: Path) -> Path:
    (tmp_path / "oncall.yaml").write_text("store: s.duckdb\n")
    lines = [
        f'req{{code="{code}"}} {i} {1700000000000 + i * 60000}' for i in range(500) for code in (200, 500)
    ]
    (tmp_path / "m.prom").write_text("\n".join(lines) + "\n")
    return tmp_path


def test_check_prints_size_bytes_per_sample_and_rows(oncall, workspace: Path) -> None:
    assert oncall("import", "m.prom", cwd=workspace).returncode == 0
    out = oncall("check", cwd=workspace).stdout
    size = re.search(
        r"^    size        (\S+) (MB|kB), ([\d,.]+) bytes per sample, (\d+)% of the file free$", out, re.M
    )
    assert size, out
    on_disk = (workspace / "s.duckdb").stat().st_size
    scale = {"MB": 1e6, "kB": 1e3}[size[2]]
    assert abs(float(size[1]) * scale - on_disk) <= on_disk * 0.01
    assert float(size[3].replace(",", "")) == pytest.approx(on_disk / 1000, rel=0.01)
    assert re.search(r"^      samples\s+1,000$", out, re.M), out
    assert re.search(r"^      series\s+2$", out, re.M), out
    assert re.search(r"^      \(\d+ empty tables\)$", out, re.M), out


def test_check_json_has_the_footprint(oncall, workspace: Path) -> None:
    oncall("import", "m.prom", cwd=workspace)
    found = json.loads(oncall("check", "--format", "json", cwd=workspace).stdout)["footprint"]
    assert found["file_bytes"] == (workspace / "s.duckdb").stat().st_size
    assert found["rows"]["samples"] == 1000 and found["rows"]["series"] == 2
    assert found["bytes_per_sample"] == pytest.approx(found["bytes"] / 1000, abs=0.01)
    assert 0.0 <= found["free_share"] < 1.0
