"""Compaction: closed days are rewritten sorted and compressed, and the file rewritten; every
sample stays (bit for bit), SLO and rule answers across the cold/hot boundary do not change,
and a kill -9 at any point leaves the old store or the new one, whole."""

from __future__ import annotations

import itertools
import json
import math
import os
import signal
import struct
import subprocess
import sys
import time
from datetime import datetime, timedelta
from pathlib import Path

import numpy as np
import pyarrow as pa
import pytest

from console.slo.backtest import backtest
from console.slo.model import SLO
from console.slo.status import slo_status
from console.slo.sums import clear_cache
from console.store import Store, canonical_labels, ingest_samples
from console.store.compact import compact, day_start, needs_compaction, unfinished_path

REPO = Path(__file__).resolve().parents[2]
NOW = datetime(2026, 3, 1, 12, 0)
MIDNIGHT = day_start(NOW)
START = NOW - timedelta(days=3)
SLOS = [
    SLO.model_validate(
        {
            "name": "avail",
            "objective": 99.9,
            "window": "7d",
            "sli": {"ratio": {"bad": 'req_total{code="500"}', "total": "req_total", "by": ["pod"]}},
        }
    ),
    SLO.model_validate(
        {
            "name": "latency",
            "objective": 99,
            "window": "1d",
            "sli": {"latency": {"buckets": "lat_seconds_bucket", "threshold": 0.25}},
        }
    ),
]
ODD_VALUES = [math.nan, -0.0, 0.0, 0.5, -3.0, 1e300, -math.inf, math.inf, 2.0**60, 2.0**53, None]


def _table(name: str, labels: dict[str, str], times: list[datetime], values: list[float | None]) -> pa.Table:
    return pa.table(
        {
            "name": [name] * len(times),
            "labels": [canonical_labels(labels)] * len(times),
            "ts": pa.array(times, pa.timestamp("us")),
            "value": pa.array(values, pa.float64()),
        }
    )


def fill(store: Store, start: datetime, end: datetime, seed: int = 1) -> None:
    """Counters (one restart), histogram buckets and an awkward gauge, every minute in [start, end)."""
    rng = np.random.default_rng(seed)
    times = [start + timedelta(minutes=i) for i in range(int((end - start).total_seconds() // 60))]
    n = len(times)
    for pod in ("a", "b", "c"):
        for code, rate in (("200", 100), ("500", 2)):
            values = np.cumsum(rng.integers(0, rate, n)).astype(float)
            if pod == "b":
                values[n // 2 :] -= values[n // 2 - 1]  # a restart
            ingest_samples(store, _table("req_total", {"pod": pod, "code": code}, times, values.tolist()))
    total = rng.integers(50, 150, n)
    below = np.zeros(n, dtype=np.int64)
    for le, share in (("0.1", 0.8), ("0.25", 0.99), ("+Inf", 1.0)):
        below = np.maximum(below, rng.binomial(total, share))
        ingest_samples(
            store, _table("lat_seconds_bucket", {"le": le}, times, np.cumsum(below).astype(float).tolist())
        )
    gauge = [ODD_VALUES[i % len(ODD_VALUES)] if i % 7 == 0 else float(rng.normal()) for i in range(n)]
    ingest_samples(store, _table("temp", {"room": "x"}, times, gauge))


def every_sample(store: Store) -> list[tuple[int, datetime, bytes | None]]:
    """Every sample, its value as the bits of the double (NaN and -0.0 included)."""
    rows = store.query("SELECT series_id, ts, value FROM samples ORDER BY series_id, ts")[1]
    return [(s, t, None if v is None else struct.pack("<d", v)) for s, t, v in rows]


def totals(store: Store) -> tuple:
    """Counts and exact sums (decimal, so the order of addition does not matter)."""
    return store.query(
        "SELECT count(*), count(value), sum(CASE WHEN abs(value) < 1e12 THEN value::DECIMAL(38, 9) END), "
        "sum(epoch_us(ts)), sum(series_id) FROM samples"
    )[1][0]


@pytest.fixture()
def path(tmp_path: Path) -> Path:
    clear_cache()
    with Store.open(tmp_path / "s.duckdb") as store:
        fill(store, START, NOW)
    yield tmp_path / "s.duckdb"
    clear_cache()


def tiers(store: Store) -> tuple[int, int]:
    """Samples before the last compaction's end (compacted) and after it; (0, all) before any."""
    return store.query(
        "SELECT count(*) FILTER (WHERE ts < c), count(*) FILTER (WHERE ts >= c) FROM sample_rows, "
        "(SELECT coalesce(max(cold_before), TIMESTAMP '1970-01-01') AS c FROM store_compactions)"
    )[1][0]


def uncompacted(store: Store, before: datetime) -> int:
    """Samples before `before` whose integral value is still a DOUBLE (not compacted)."""
    return store.query(
        "SELECT count(*) FROM sample_rows WHERE ts < ? AND ivalue IS NULL AND isfinite(value) "
        "AND value = trunc(value) AND abs(value) < 1e15 AND NOT (value = 0 AND signbit(value))",
        [before],
    )[1][0][0]


def test_compaction_keeps_every_sample_and_moves_closed_days_into_the_cold_tier(path: Path) -> None:
    with Store.open(path) as store:
        before, sums, size = every_sample(store), totals(store), path.stat().st_size
        assert needs_compaction(store, NOW)
        result = compact(store, NOW)
        assert every_sample(store) == before
        assert totals(store) == sums
        today = store.query("SELECT count(*) FROM samples WHERE ts >= ?", [MIDNIGHT])[1][0][0]
        assert tiers(store) == (len(before) - today, today) == (result.cold_samples, result.hot_samples)
        assert uncompacted(store, MIDNIGHT) == 0 < uncompacted(store, NOW + timedelta(days=1))
        assert not needs_compaction(store, NOW)
        assert result.bytes_after == path.stat().st_size < size
    with Store.open_read(path) as reader:  # a fresh process sees the same
        assert every_sample(reader) == before


@pytest.mark.parametrize("how", ["rewrite", "in place"])
def test_compaction_sorts_a_few_series_at_a_time_and_keeps_every_sample(
    tmp_path: Path, monkeypatch, how: str
) -> None:
    """A compaction sorts a few million samples at a time, whole series (one sort of every
    closed day peaked at 3.3 GB for 60 M samples): here two series a part over two weeks, so
    each part holds its series' first week, then their second, and the next part follows."""
    import console.store.compact as compaction

    monkeypatch.setattr(compaction, "SAMPLES_PER_SORT", 2 * 11 * 24)  # two series' 11 days
    begin = datetime(2026, 2, 19)  # a Thursday, as weeks since the epoch begin: 11 days are two of them
    with Store.open(tmp_path / "s.duckdb") as store:
        times = [begin + timedelta(hours=h) for h in range(11 * 24)]
        for k in range(5):
            ingest_samples(
                store, _table("g", {"k": str(k)}, times, [float(h % 7 + k) for h in range(len(times))])
            )
        before, sums = every_sample(store), totals(store)
        cutoff = begin + timedelta(days=12)
        if how == "rewrite":
            compact(store, cutoff)
        else:
            compaction.compact_in_place(store, cutoff)
        assert every_sample(store) == before and totals(store) == sums
        order = store.query("SELECT series_id, epoch_us(ts) // 604800000000 FROM sample_rows ORDER BY rowid")[
            1
        ]
    ids = sorted({series for series, _ in order})
    parts = [ids[0:2], ids[2:4], ids[4:]]
    runs = [key for key, _ in itertools.groupby(order)]
    weeks = sorted({week for _, week in order})
    assert len(weeks) == 2
    assert runs == [(series, week) for part in parts for week in weeks for series in part]


def test_a_second_compaction_a_day_later_keeps_everything_too(path: Path) -> None:
    with Store.open(path) as store:
        compact(store, NOW)
        fill(store, NOW, NOW + timedelta(days=1), seed=2)
        before, sums = every_sample(store), totals(store)
        compact(store, NOW + timedelta(days=1))
        assert every_sample(store) == before and totals(store) == sums
        assert uncompacted(store, MIDNIGHT + timedelta(days=1)) == 0
        runs = store.query("SELECT count(*) FROM store_compactions")[1][0][0]
        assert runs == 2


def test_import_again_after_compaction_adds_nothing(path: Path) -> None:
    with Store.open(path) as store:
        compact(store, NOW)
        n = store.count("samples")
        fill(store, START, NOW)  # the same samples again, the closed days now compacted
        assert store.count("samples") == n


def test_retention_removes_compacted_samples_too(path: Path) -> None:
    with Store.open(path) as store:
        compact(store, NOW)
        removed = store.apply_retention(NOW, {"samples": 0.25})  # keep 6 hours
        assert removed["samples"] > 0
        assert store.query("SELECT min(ts) >= ? FROM samples", [NOW - timedelta(hours=6)])[1][0][0]
        assert store.query("SELECT count(*) FROM sample_rows WHERE ivalue IS NOT NULL")[1] == [(0,)]


def _answers(store: Store) -> dict:
    """SLO status and backtest across midnight, and PromQL rules whose windows cross it."""
    from console.rules.evaluation import evaluate
    from tests.unit.test_promql_rules import load_rule_text

    clear_cache()
    status = slo_status(store, SLOS, NOW)
    grid = backtest(
        store, SLOS, MIDNIGHT - timedelta(hours=2), MIDNIGHT + timedelta(hours=2), timedelta(minutes=1)
    )
    rules = [
        load_rule_text(
            'sum by (pod) (rate(req_total{code="500"}[5m])) / sum by (pod) (rate(req_total[5m])) > 0'
        ),
        load_rule_text("increase(lat_seconds_bucket[1d]) > 0"),
        load_rule_text("max_over_time(temp[10m]) > -10"),
    ]
    evaluated = {}
    for at in (MIDNIGHT + timedelta(minutes=2), MIDNIGHT + timedelta(seconds=30), NOW):
        results = evaluate(store, rules, at)
        evaluated[at] = [
            (r.error, sorted((json.dumps(i.labels, sort_keys=True), i.value) for i in r.instances))
            for r in results
        ]
    return {"status": repr(status), "backtest": repr(grid), "rules": evaluated}


def test_slo_and_rule_answers_across_the_cold_hot_boundary_do_not_change(path: Path) -> None:
    with Store.open(path) as store:
        before = _answers(store)
        assert any(instances for rows in before["rules"].values() for _, instances in rows)
        compact(store, NOW)
        assert tiers(store)[0] and tiers(store)[1]
        after = _answers(store)
    assert after == before


def test_slo_rollups_kept_before_compaction_still_check_out_after_it(path: Path) -> None:
    with Store.open(path) as store:
        first = repr(slo_status(store, SLOS, NOW))  # persists rollups of finished blocks
        compact(store, NOW)
    clear_cache()
    with Store.open(path) as store:
        assert repr(slo_status(store, SLOS, NOW)) == first


_CHILD = """
import os, sys, time
from datetime import datetime
import console.store.compact as compact_module
from console.store import Store
real_replace = os.replace
where = sys.argv[2]
def replace(src, dst):
    if where == "after":
        real_replace(src, dst)
    open(sys.argv[3], "w").close()
    time.sleep(60)
    if where == "before":
        real_replace(src, dst)
if where in ("before", "after"):
    compact_module.os.replace = replace
run = compact_module.compact_in_place if where == "in place" else compact_module.compact
with Store.open(sys.argv[1]) as store:
    open(sys.argv[3] + ".open", "w").close()
    run(store, datetime.fromisoformat(sys.argv[4]))
"""


def _child(path: Path, where: str, flag: Path) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-c", _CHILD, str(path), where, str(flag), NOW.isoformat()],
        env={**os.environ, "PYTHONPATH": str(REPO)},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )


def _wait_for(flag: Path, proc: subprocess.Popen, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while not flag.exists():
        assert proc.poll() is None, proc.communicate()
        assert time.monotonic() < deadline
        time.sleep(0.01)


@pytest.mark.parametrize("where", ["before", "after"])
def test_kill_9_at_the_rename_leaves_a_whole_store(path: Path, tmp_path: Path, where: str) -> None:
    with Store.open(path) as store:
        before = every_sample(store)
    flag = tmp_path / "flag"
    proc = _child(path, where, flag)
    _wait_for(flag, proc)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    assert unfinished_path(path).exists() == (where == "before")
    with Store.open(path) as store:
        assert every_sample(store) == before
        assert (uncompacted(store, MIDNIGHT) == 0) == (where == "after")
        assert store.query("SELECT count(*) FROM store_integrity")[1] == [(0,)]  # nothing reads as lost
        compact(store, NOW)  # and the next compaction finishes, removing what was left
        assert every_sample(store) == before
    assert not unfinished_path(path).exists()


@pytest.mark.parametrize("how", ["rewrite", "in place"])
def test_kill_9_at_random_moments_of_compaction_never_loses_a_sample(
    path: Path, tmp_path: Path, how: str
) -> None:
    """Kills at random moments until three landed while a compaction ran (one that finished
    first leaves nothing to compact: the next child gets a fresh store to compact)."""
    rng = np.random.default_rng(7)
    killed_running = 0
    for attempt in range(30):
        with Store.open(path) as store:
            before = every_sample(store)
        flag = tmp_path / f"flag{attempt}"
        proc = _child(path, how, flag)
        _wait_for(Path(f"{flag}.open"), proc)
        time.sleep(float(rng.uniform(0, 0.05)))
        killed = proc.poll() is None
        if killed:
            os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
        with Store.open(path) as store:
            assert every_sample(store) == before, attempt
            store.con.execute("UPDATE sample_rows SET ts = ts WHERE false")  # still writable
        killed_running += killed
        if killed_running >= 3:
            break
        if not killed:
            path = tmp_path / f"s{attempt}.duckdb"
            with Store.open(path) as store:
                fill(store, START, NOW)
    assert killed_running >= 3  # kills landed while it compacted


def test_oncall_compact_reports_the_file_before_and_after(path: Path, oncall) -> None:
    result = oncall(
        "compact",
        "--store",
        str(path),
        "--format",
        "json",
        env={"ONCALL_NOW": NOW.isoformat()},
        cwd=path.parent,
    )
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["bytes_after"] == path.stat().st_size < report["bytes_before"]
    assert report["cold_before"] == MIDNIGHT.isoformat()
    with Store.open_read(path) as store:
        assert (report["cold_samples"], report["hot_samples"]) == tiers(store)
        assert report["bytes_per_sample"] == round(report["bytes_after"] / store.count("samples"), 3)


def test_compaction_in_place_keeps_every_sample_and_the_answers(path: Path) -> None:
    from console.store.compact import compact_in_place

    with Store.open(path) as store:
        before, sums, answers = every_sample(store), totals(store), _answers(store)
        moved = compact_in_place(store, NOW)
        assert moved == tiers(store)[0] > 0
        assert every_sample(store) == before and totals(store) == sums
        assert _answers(store) == answers
        fill(store, NOW, NOW + timedelta(days=1), seed=2)  # the next day, then it closes
        before = every_sample(store)
        compact_in_place(store, NOW + timedelta(days=1))
        assert every_sample(store) == before
        assert uncompacted(store, MIDNIGHT + timedelta(days=1)) == 0


def test_the_owning_process_compacts_once_after_a_day_closes(path: Path, tmp_path: Path) -> None:
    from console.config.workspace import load_workspace
    from console.runtime.engine import Engine

    (tmp_path / "oncall.yaml").write_text("store: s.duckdb\n")
    with Store.open(path) as store:
        engine = Engine(load_workspace(tmp_path / "oncall.yaml"), store, collectors=[], rules=[])
        before = every_sample(store)
        first = [e.text for e in engine.tick(NOW).events if e.kind == "store"]
        assert first == [f"{len(before) - tiers(store)[1]} samples of closed days compacted"]
        assert [e for e in engine.tick(NOW + timedelta(minutes=1)).events if e.kind == "store"] == []
        assert every_sample(store) == before
        fill(store, NOW, NOW + timedelta(hours=13), seed=3)  # past midnight
        later = [e.text for e in engine.tick(NOW + timedelta(hours=13)).events if e.kind == "store"]
        assert len(later) == 1 and "compacted" in later[0]
        assert uncompacted(store, MIDNIGHT + timedelta(days=1)) == 0


def test_a_rewrite_that_fails_leaves_the_store_as_it_was(path: Path, monkeypatch) -> None:
    import console.store.compact as compact_module

    def broken(con, cold_before):
        raise OSError("No space left on device")

    with Store.open(path) as store:
        before = every_sample(store)
        monkeypatch.setattr(compact_module, "_copy_samples", broken)
        with pytest.raises(OSError, match="No space"):
            compact(store, NOW)
        assert not unfinished_path(path).exists()
        assert every_sample(store) == before
        fill(store, NOW, NOW + timedelta(minutes=5), seed=4)  # still open for writing
        assert store.count("samples") > len(before)


def test_oncall_compact_sent_to_the_process_holding_the_store_compacts_in_place(path: Path, capsys) -> None:
    from console.cli.main import main

    with Store.open(path) as store:
        before, con = every_sample(store), store.con
        assert (
            main(["compact", "--store", str(path), "--format", "json"], store=store, clock=lambda: NOW) == 0
        )
        report = json.loads(capsys.readouterr().out)
        assert report["compacted_in_place"] == tiers(store)[0] > 0
        assert store.con is con  # the owner's connection, which its other threads use, stays
        assert every_sample(store) == before and uncompacted(store, MIDNIGHT) == 0


def test_the_owning_process_applies_the_workspaces_retention_once_a_day(path: Path, tmp_path: Path) -> None:
    """`retention: {samples: 1}`: the console deletes samples older than a day at its first tick
    and once each UTC day after; what is younger stays, bit for bit."""
    from console.config.workspace import load_workspace
    from console.runtime.engine import Engine

    (tmp_path / "oncall.yaml").write_text("store: s.duckdb\nretention: {samples: 1}\n")
    with Store.open(path) as store:
        cutoff = NOW - timedelta(days=1)
        young = [s for s in every_sample(store) if s[1] >= cutoff]
        old = len(every_sample(store)) - len(young)
        assert old > 0 and young
        engine = Engine(load_workspace(tmp_path / "oncall.yaml"), store, collectors=[], rules=[])
        said = [e.text for e in engine.tick(NOW).events if e.kind == "store"]
        assert f"retention: removed {old} samples" in said
        assert every_sample(store) == young
        assert not [e for e in engine.tick(NOW + timedelta(hours=1)).events if "retention" in e.text]
        later = [e.text for e in engine.tick(NOW + timedelta(days=1)).events if "retention" in e.text]
        assert later and later[0].startswith("retention: removed ")
        assert every_sample(store) == []  # every sample was before NOW, a day earlier
