"""Sloth's own example specs, imported by `oncall slo import`, backtest exactly as hand-written
oncall SLOs of the same meaning, on the same data (tests/sloth_data.py)."""

from __future__ import annotations

import contextlib
import io
import shutil
from datetime import timedelta

import numpy as np
import pytest

from console.cli.main import main
from console.slo.backtest import backtest
from console.slo.model import load_slo_file
from console.store import Store
from tests.sloth_data import DAYS, ERROR_BURST, SLOW_SPELL, START, write_openmetrics
from tests.unit.test_slo_import_sloth import FIXTURES

IMPORTED = ("getting-started.yml", "kubernetes-apiserver.yml", "grouped.yml")
FROM = START + timedelta(days=3)
TO = START + timedelta(days=DAYS) - timedelta(minutes=1)
STEP = timedelta(minutes=1)


@pytest.fixture(scope="module")
def workspaces(tmp_path_factory):
    """(imported, native): two workspaces over one store, the Sloth files imported into the first."""
    root = tmp_path_factory.mktemp("sloth")
    data = root / "metrics.om"
    write_openmetrics(data)
    store = root / "oncall.duckdb"
    imported, native = root / "imported", root / "native"
    for workspace, files in ((imported, [f"{n}.yaml" for n in IMPORTED]), (native, ["native.yaml"])):
        workspace.mkdir()
        (workspace / "oncall.yaml").write_text(f"store: {store}\nslos: [{', '.join(files)}]\n")
    for name in IMPORTED:
        with contextlib.redirect_stderr(io.StringIO()):
            assert main(["slo", "import", str(FIXTURES / name), "-o", str(imported / f"{name}.yaml")]) == 0
    shutil.copy(FIXTURES / "native-equivalents.yaml", native / "native.yaml")
    with contextlib.redirect_stdout(io.StringIO()):
        assert main(["-w", str(imported), "import", str(data)]) == 0
    return imported, native, store


def _slos(workspace):
    return {
        slo.name: slo
        for path in sorted(workspace.glob("*.y*ml"))
        if path.name != "oncall.yaml"
        for slo in load_slo_file(path)
    }


def test_every_native_slo_has_its_imported_twin(workspaces):
    imported, native, _ = workspaces
    assert sorted(_slos(imported)) == sorted(_slos(native))
    assert len(_slos(native)) == 11


def _by_group(results):
    return {tuple(sorted(bt.group.items())): bt for bt in results}


def test_imported_slos_backtest_identically_to_the_native_ones(workspaces):
    imported, native, path = workspaces
    theirs, ours = _slos(imported), _slos(native)
    paged = set()
    with Store.open_read(path) as store:
        for name, slo in ours.items():
            want = _by_group(backtest(store, [slo], FROM, TO, STEP))
            got = _by_group(backtest(store, [theirs[name]], FROM, TO, STEP))
            assert sorted(got) == sorted(want), name
            for group, bt in want.items():
                other = got[group]
                assert np.array_equal(other.times, bt.times)
                for window, ratio in bt.error_ratio.items():
                    assert np.array_equal(other.error_ratio[window], ratio, equal_nan=True), (
                        name,
                        group,
                        window,
                    )
                    assert np.array_equal(other.status[window], bt.status[window]), (name, group, window)
                assert [c.as_dict() for c in other.conditions] == [c.as_dict() for c in bt.conditions], name
                for condition, held in bt.held.items():
                    assert np.array_equal(other.held[condition], held), (name, group, condition)
                if bt.severity_runs("page"):
                    paged.add((name, group))
    # Not a comparison of nothing: the burst and the slow spell page where they should.
    names = {name for name, _ in paged}
    assert {"myservice-requests-availability", "k8s-apiserver-requests-latency"} <= names
    assert (("myservice-availability-by-suffix", (("model", "a"),))) in paged
    assert (("myservice-latency-by-suffix", (("model", "b"),))) in paged
    assert ("myservice-availability-by-suffix", (("model", "b"),)) not in paged
    assert ERROR_BURST[0] > FROM and SLOW_SPELL[1] < TO


def _cli(workspace, *argv):
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        assert main(["-w", str(workspace), *argv]) == 0
    return out.getvalue()


def test_the_cli_prints_the_same_backtest_and_status_for_both(workspaces, monkeypatch):
    imported, native, _ = workspaces
    window = ["--from", FROM.isoformat() + "Z", "--to", TO.isoformat() + "Z", "--step", "5m"]
    for argv in (
        ["slo", "backtest", "--all", *window, "--format", "json"],
        ["slo", "backtest", "--all", *window],
    ):
        assert _cli(imported, *argv) == _cli(native, *argv)
    monkeypatch.setenv("ONCALL_NOW", (ERROR_BURST[0] + timedelta(hours=1)).isoformat() + "Z")
    status = _cli(native, "slo", "--format", "json")
    assert _cli(imported, "slo", "--format", "json") == status
    assert '"page"' in status
