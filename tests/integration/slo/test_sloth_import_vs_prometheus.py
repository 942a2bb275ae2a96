"""Sloth's own queries on a real Prometheus against the SLOs `oncall slo import` made of them.

Sloth records each SLO's error ratio as `(error_query) / (total_query)` with the window filled
in, and alerts on `(ratio over long) > f·B and (ratio over short) > f·B`; the same data
(tests/sloth_data.py) is backfilled into Prometheus and imported into oncall, and every
window's ratio and every alert instant of every imported SLO must be what Prometheus says."""

from __future__ import annotations

import contextlib
import io
import math
from datetime import datetime, timedelta

import pytest
import yaml

from console.cli.main import main
from console.config.durations import format_duration
from console.slo.backtest import backtest
from console.slo.model import WINDOWS, load_slo_file
from console.store import Store
from tests.servers import backfill, start_prometheus
from tests.servers import prometheus_query_range as query_range
from tests.sloth_data import DAYS, START, write_openmetrics
from tests.unit.test_slo_import_sloth import FIXTURES

pytestmark = pytest.mark.integration

FILES = ("getting-started.yml", "kubernetes-apiserver.yml", "grouped.yml")
FROM = START + timedelta(days=3)
TO = START + timedelta(days=DAYS) - timedelta(minutes=1)
STEP = timedelta(minutes=5)


def _sloth_queries() -> dict[str, tuple[str, str]]:
    """SLO name as oncall imports it -> Sloth's (error_query, total_query)."""
    out = {}
    for name in FILES:
        spec = yaml.safe_load((FIXTURES / name).read_text())
        for slo in spec["slos"]:
            events = slo["sli"]["events"]
            out[f"{spec['service']}-{slo['name']}"] = (events["error_query"], events["total_query"])
    return out


def _ratio(queries: tuple[str, str], window: timedelta) -> str:
    error, total = (q.replace("{{.window}}", format_duration(window)) for q in queries)
    return f"({error})\n/\n({total})"  # Sloth's slo:sli_error:ratio_rate<window> rule


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    root = tmp_path_factory.mktemp("sloth-prom")
    data = root / "metrics.om"
    write_openmetrics(data)
    server = start_prometheus(backfill(data, root / "tsdb"), root)
    workspace = root / "ws"
    workspace.mkdir()
    (workspace / "oncall.yaml").write_text("store: oncall.duckdb\nslos: []\n")
    slos = []
    try:
        for name in FILES:
            out = root / f"{name}.yaml"
            with contextlib.redirect_stderr(io.StringIO()):
                assert main(["slo", "import", str(FIXTURES / name), "-o", str(out)]) == 0
            slos += load_slo_file(out)
        with contextlib.redirect_stdout(io.StringIO()):
            assert main(["-w", str(workspace), "import", str(data)]) == 0
        with Store.open_read(workspace / "oncall.duckdb") as store:
            results = {
                (bt.slo.name, tuple(sorted(bt.group.items()))): bt
                for bt in backtest(store, slos, FROM, TO, STEP)
            }
        yield server, slos, results
    finally:
        server.stop()


def _iso(epoch: float) -> str:
    return (datetime(1970, 1, 1) + timedelta(seconds=epoch)).isoformat()


def test_every_window_ratio_equals_sloths_recording_rule(setup):
    server, slos, results = setup
    queries = _sloth_queries()
    assert len(slos) == 11  # grouped.yml's mixed-grouping SLO does not import
    compared = 0
    for slo in slos:
        for window in WINDOWS:
            series = query_range(server, _ratio(queries[slo.name], window), FROM, TO, STEP)
            assert series, (slo.name, window)
            mine_groups = {key for key in results if key[0] == slo.name}
            theirs_groups = {(slo.name, tuple(sorted(s["metric"].items()))) for s in series}
            assert mine_groups == theirs_groups, (slo.name, window)
            for s in series:
                bt = results[(slo.name, tuple(sorted(s["metric"].items())))]
                by_time = dict(zip((bt.times // 1000).tolist(), bt.error_ratio[window].tolist()))
                assert len(s["values"]) == len(bt.times)
                for epoch, text in s["values"]:
                    mine, theirs = by_time[int(epoch)], float(text)
                    assert math.isclose(mine, theirs, rel_tol=1e-9, abs_tol=1e-15), (
                        slo.name,
                        s["metric"],
                        format_duration(window),
                        _iso(epoch),
                        mine,
                        theirs,
                    )
                    compared += 1
    assert compared > 11 * len(WINDOWS) * 288


def test_alert_instants_equal_sloths_alert_expressions(setup):
    server, slos, results = setup
    queries = _sloth_queries()
    fired = 0
    for slo in slos:
        for key, bt in results.items():
            if key[0] != slo.name:
                continue
            for cond in bt.conditions:
                expr = (
                    f"({_ratio(queries[slo.name], cond.long_window)}) > {cond.threshold!r} and "
                    f"({_ratio(queries[slo.name], cond.short_window)}) > {cond.threshold!r}"
                )
                theirs = {
                    int(e)
                    for s in query_range(server, expr, FROM, TO, STEP)
                    if tuple(sorted(s["metric"].items())) == key[1]
                    for e, _ in s["values"]
                }
                mine = set((bt.times[bt.held[cond.name]] // 1000).tolist())
                assert mine == theirs, (cond.name, key)
                fired += len(mine)
    assert fired > 0
    assert any(bt.severity_runs("page") for bt in results.values())
