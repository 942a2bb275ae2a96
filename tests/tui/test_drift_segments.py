"""The Drift view's segments section: a `segments` source's groups and fairness, as `oncall segments` gives them."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from textual.widgets import Static

from console.drift.segments import evaluate_segments
from console.store import Store
from console.tui.app import OncallApp
from tests.segment_records import install_segments_kind
from tests.tui.conftest import NOW
from tests.tui.test_drift_view import SIZE, open_drift

SOURCE = """
  - name: fairness
    kind: segments
    checks:
      - model: fraud-detector
        by: [country]
        window: 6h
        threshold: 0.1
      - model: fraud-detector
        by: [no_such_column]
"""


@pytest.fixture
def segments_installed(monkeypatch):
    install_segments_kind(monkeypatch)


def _add_source(root: Path) -> None:
    path = root / "oncall.yaml"
    text = path.read_text()
    path.write_text(text.replace("slos: [slos/*.yaml]", SOURCE.strip("\n") + "\nslos: [slos/*.yaml]", 1))


async def test_groups_and_fairness_beside_drift(workspace: Path, session_for, segments_installed) -> None:
    _add_source(workspace)
    with Store.open(workspace / "oncall.duckdb") as store:
        report = evaluate_segments(
            store, "fraud-detector", ["country"], NOW, timedelta(hours=6), threshold=0.1
        )
    app = OncallApp(session_for(workspace), refresh_seconds=0)
    async with app.run_test(size=SIZE) as pilot:
        await open_drift(pilot)
        text = app.query_one("#drift-segments", Static).render().plain
    lines = text.splitlines()
    heading = next(line for line in lines if line.startswith("Segments · fraud-detector by country ·"))
    assert f"{int(report.overall.count)} labelled" in heading
    assert f"demographic parity diff {report.fairness['demographic_parity_difference']:.3f}" in heading
    for group in report.groups:
        line = next(line for line in lines if line.strip().startswith(f"country={group.values[0]} "))
        assert line.split()[1:4] == [str(int(group.count)), f"{group.selection_rate:.3f}", f"{group.tpr:.3f}"]
    assert 0 < report.overall.selection_rate < 1  # the threshold decides both ways in the demo's records
    assert (
        "Segments · fraud-detector by no_such_column: --by no_such_column: no record of fraud-detector"
        in text
    )


async def test_no_segments_source_no_section(workspace: Path, session_for) -> None:
    app = OncallApp(session_for(workspace), refresh_seconds=0)
    async with app.run_test(size=SIZE) as pilot:
        await open_drift(pilot)
        assert not app.query("#drift-segments")
