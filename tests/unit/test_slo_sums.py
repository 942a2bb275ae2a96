"""Window sums from kept and persisted rollups: always equal to one pass over every sample."""

from datetime import datetime, timedelta

import numpy as np
import pandas as pd
import pytest

from console.slo.blocks import DAY_MS, HOUR_MS
from console.slo.model import SLO
from console.slo.status import slo_status
from console.slo.sums import clear_cache
from console.store import Store, canonical_labels, ingest_samples

NOW = datetime(2026, 3, 1, 13, 37)
SLOS = [
    SLO.model_validate(
        {
            "name": "avail",
            "objective": 99.9,
            "window": "7d",
            "sli": {"ratio": {"bad": 'req_total{code="500"}', "total": "req_total", "by": ["pod"]}},
        }
    )
]


def put(store, labels, times, values):
    ingest_samples(
        store,
        pd.DataFrame(
            {
                "name": "req_total",
                "labels": canonical_labels(labels),
                "ts": pd.to_datetime(times),
                "value": values,
            }
        ),
    )


@pytest.fixture()
def path(tmp_path):
    clear_cache()
    with Store.open(tmp_path / "s.duckdb") as store:
        rng = np.random.default_rng(1)
        times = [NOW - timedelta(days=9) + timedelta(minutes=10 * i) for i in range(9 * 144)]
        for pod in ("a", "b"):
            for code in ("200", "500"):
                values = np.cumsum(rng.integers(0, 50 if code == "200" else 3, len(times))).astype(float)
                if pod == "b":
                    values[400:] -= values[399]  # a restart four days in
                put(store, {"pod": pod, "code": code}, times, values)
    yield tmp_path / "s.duckdb"
    clear_cache()


@pytest.fixture()
def store(path):
    with Store.open(path) as store:
        yield store


def numbers(statuses):
    return [
        (
            s.group,
            s.period.total,
            s.period.errors,
            [(w.total, w.errors, w.status) for w in s.windows.values()],
        )
        for s in statuses
    ]


def one_pass(store, now):
    return numbers(slo_status(store, SLOS, now, rollups=False))


def assert_same(mine, theirs):
    assert [g[0] for g in mine] == [g[0] for g in theirs]
    for a, b in zip(mine, theirs):
        assert a[1:3] == pytest.approx(b[1:3], rel=1e-12)
        for x, y in zip(a[3], b[3]):
            assert x[:2] == pytest.approx(y[:2], rel=1e-12) and x[2] == y[2]


def cold(path, now):
    """`oncall slo` in a fresh process: a read-only open, nothing kept in memory."""
    clear_cache()
    with Store.open_read(path) as store:
        return numbers(slo_status(store, SLOS, now, cache=False)), one_pass(store, now)


def rollups(store):
    return store.query(
        "SELECT series_id, start_ms, length_ms, samples, inner_inc FROM slo_rollups ORDER BY ALL"
    )[1]


def test_kept_blocks_give_the_same_numbers_as_one_pass(store):
    for minutes in (0, 1, 61, 24 * 60 + 5):  # refreshes as the clock moves on
        now = NOW + timedelta(minutes=minutes)
        assert_same(numbers(slo_status(store, SLOS, now)), one_pass(store, now))


def test_cold_status_reads_persisted_rollups_and_equals_one_pass(path, store):
    slo_status(store, SLOS, NOW)  # the store's owner builds the rollups
    persisted = rollups(store)
    assert len({(r[1], r[2]) for r in persisted}) > 20  # finished days and hours
    store.close()
    mine, reference = cold(path, NOW)
    assert_same(mine, reference)
    assert mine[0][3][-1][0] > 0  # traffic over 3 days: numbers, not zeros
    # The cold answer comes from the rollups: a (forged) persisted increase shows in it.
    with Store.open(path) as writer:
        writer.query(
            "UPDATE slo_rollups SET inner_inc = inner_inc + 1000 "
            f"WHERE length_ms = {DAY_MS} AND start_ms = {DAY_MS * (int(NOW.timestamp()) // 86400 - 5)}"
        )
    forged, _ = cold(path, NOW)
    assert forged[0][1] == mine[0][1] + 2000  # two series of pod a's group, both totals


def test_late_sample_in_a_persisted_hour_changes_the_answer(path, store):
    slo_status(store, SLOS, NOW)
    hour = NOW.replace(hour=3, minute=0)  # a finished hour of a day cut into hours
    start_ms = int((hour - datetime(1970, 1, 1)).total_seconds()) * 1000
    before = [r for r in rollups(store) if r[1] == start_ms and r[2] == HOUR_MS]
    assert before
    store.close()
    first, _ = cold(path, NOW)
    with Store.open(path) as writer:  # a late sample that dips: a reset
        put(writer, {"pod": "a", "code": "500"}, [hour + timedelta(minutes=5)], [0.0])
    after, reference = cold(path, NOW)
    assert after != first
    assert_same(after, reference)
    with Store.open(path) as writer:  # the owner rewrites just that block
        assert_same(numbers(slo_status(writer, SLOS, NOW)), reference)
        now_rows = [r for r in rollups(writer) if r[1] == start_ms and r[2] == HOUR_MS]
        changed = [r for r in now_rows if r not in before]
        assert len(changed) == 1 and changed[0][3] == next(r for r in before if r[0] == changed[0][0])[3] + 1


def test_a_late_sample_written_by_the_owner_is_noticed_warm(store):
    """The console owns the store: its kept blocks are checked again only where it wrote."""
    slo_status(store, SLOS, NOW)
    assert store.sample_writes.oldest_since(store.sample_writes.generation) is None
    hour = NOW.replace(hour=3, minute=0)  # a finished, kept hour
    put(store, {"pod": "a", "code": "500"}, [hour + timedelta(minutes=5)], [0.0])  # a reset
    assert store.sample_writes.oldest_since(0) is not None
    assert_same(numbers(slo_status(store, SLOS, NOW)), one_pass(store, NOW))
    put(store, {"pod": "b", "code": "500"}, [NOW - timedelta(days=2, minutes=1)], [0.0])
    assert_same(numbers(slo_status(store, SLOS, NOW)), one_pass(store, NOW))


def test_retention_is_noticed_cold_and_warm(path, store):
    slo_status(store, SLOS, NOW)
    cutoff_ms = int((NOW - timedelta(days=5) - datetime(1970, 1, 1)).total_seconds() * 1000)
    assert any(r[1] + r[2] <= cutoff_ms for r in rollups(store))
    store.apply_retention(NOW, {"samples": 5})
    assert not any(r[1] + r[2] <= cutoff_ms for r in rollups(store))  # pruned with the samples
    assert_same(numbers(slo_status(store, SLOS, NOW)), one_pass(store, NOW))
    store.close()
    mine, reference = cold(path, NOW)
    assert_same(mine, reference)


def test_read_only_store_computes_what_is_not_persisted_and_writes_nothing(path, store):
    slo_status(store, SLOS, NOW - timedelta(days=1))  # rollups a day behind
    persisted = rollups(store)
    store.close()
    later = NOW + timedelta(hours=5)
    mine, reference = cold(path, later)
    assert_same(mine, reference)
    with Store.open_read(path) as reader:
        assert rollups(reader) == persisted


def test_read_only_reader_keeping_blocks_in_memory_follows_the_clock(path, store):
    slo_status(store, SLOS, NOW)
    store.close()
    clear_cache()
    with Store.open_read(path) as reader:  # a console reading another's store
        for minutes in (0, 1, 61, 24 * 60 + 5):
            now = NOW + timedelta(minutes=minutes)
            assert_same(numbers(slo_status(reader, SLOS, now)), one_pass(reader, now))


def test_read_only_store_without_rollups_reads_every_sample_once(path):
    mine, reference = cold(path, NOW)
    assert_same(mine, reference)
    with Store.open_read(path) as reader:
        assert rollups(reader) == []


def test_kept_status_agrees_with_the_backtest(store):
    from console.slo.backtest import backtest

    start = NOW - timedelta(hours=3)
    results = {tuple(r.group.items()): r for r in backtest(store, SLOS, start, NOW, timedelta(hours=1))}
    for k in range(4):
        for status in slo_status(store, SLOS, start + timedelta(hours=k)):
            result = results[tuple(status.group.items())]
            for window, value in status.windows.items():
                if value.error_ratio is None:  # no sample in a 5m window of 10m data
                    assert np.isnan(result.error_ratio[window][k])
                    assert result.STATUS[result.status[window][k]] == value.status
                else:
                    assert result.error_ratio[window][k] == pytest.approx(value.error_ratio, rel=1e-12)


def test_a_first_read_in_batches_of_series_builds_the_same_rollups(path, store, monkeypatch):
    """A first read of every block goes a few series at a time (its memory bounded): batches
    of 3 over the 4 series (the last holds one) build the rollups that one read builds."""
    slo_status(store, SLOS, NOW)
    whole = rollups(store)
    store.query("DELETE FROM slo_rollups")
    clear_cache()
    monkeypatch.setattr("console.slo.blocks.SERIES_PER_READ", 3)
    batched = numbers(slo_status(store, SLOS, NOW))
    assert rollups(store) == whole
    assert_same(batched, one_pass(store, NOW))


def counting(function, calls: list[int]):
    def counted(*args):
        calls.append(1)
        return function(*args)

    return counted


def test_vouched_rollups_as_arrays_give_the_per_series_join_bit_for_bit(tmp_path, monkeypatch):
    """`oncall slo` on built rollups joins every series' blocks at once (arrays): the same
    floats as joining each series' blocks one by one, at several clocks.  Fractional counts
    (so the order of additions shows), a reset on a day's first sample (a link that is a
    reset), and a day with no samples (an empty block)."""
    import console.slo.combined as combined
    import console.slo.sums as sums

    clear_cache()
    rng = np.random.default_rng(7)
    midnight = datetime(NOW.year, NOW.month, NOW.day) - timedelta(days=9)
    times = np.array([midnight + timedelta(minutes=10 * i) for i in range(10 * 144)])
    with Store.open(tmp_path / "s.duckdb") as store:
        for pod in ("a", "b"):
            for code in ("200", "500"):
                values = np.cumsum(rng.random(len(times)) * (7.3 if code == "200" else 0.37))
                keep = np.ones(len(times), dtype=bool)
                if pod == "b":
                    values[5 * 144 :] -= values[5 * 144 - 1] + 0.5  # restarted at midnight five days in
                    keep[2 * 144 : 3 * 144] = False  # and down for a whole day before
                put(store, {"pod": pod, "code": code}, list(times[keep]), values[keep])
        for minutes in (0, 1, 59, 61, 24 * 60 + 5):
            now = NOW + timedelta(minutes=minutes)
            slo_status(store, SLOS, now)  # the owner builds rollups and marks for this span
            clear_cache()
            joined_at_once: list[int] = []
            monkeypatch.setattr(combined, "combine_all", counting(combined.combine_all, joined_at_once))
            monkeypatch.setattr(sums, "ARRAYS_FROM", 0)  # a few series: as if there were many
            at_once = numbers(slo_status(store, SLOS, now, cache=False))
            monkeypatch.setattr(sums, "_from_vouched_rollups", lambda cur, span, vouched: None)
            one_by_one = numbers(slo_status(store, SLOS, now, cache=False))
            monkeypatch.undo()
            assert joined_at_once, "the arrays' path was not taken"
            assert at_once == one_by_one
            assert_same(at_once, one_pass(store, now))


def test_a_consoles_first_read_joins_vouched_rollups_as_arrays_and_after_a_write_checks_only_what_it_reached(
    path, monkeypatch
):
    """A console remembers no block at first: on rollups the marks vouch for it joins them as
    arrays (its first frame at scale), with the numbers of one pass.  After it writes a
    sample the marks no longer vouch, and its next read keeps the blocks in memory but checks
    against the samples only the blocks that write reached: the arrays' read counts as checked
    (else every block of the span would be read again, a scan of every sample)."""
    import console.slo.combined as combined
    import console.slo.sums as sums

    with Store.open(path) as store:
        slo_status(store, SLOS, NOW)  # a previous process built the rollups and marks
    clear_cache()
    with Store.open(path) as store:  # the console's store: a new writes log
        monkeypatch.setattr(sums, "ARRAYS_FROM", 0)  # a few series: as if there were many
        joined_at_once: list[int] = []
        monkeypatch.setattr(combined, "combine_all", counting(combined.combine_all, joined_at_once))
        assert_same(numbers(slo_status(store, SLOS, NOW)), one_pass(store, NOW))
        assert joined_at_once, "the arrays' path was not taken"
        written = NOW - timedelta(minutes=3)
        put(store, {"pod": "a", "code": "500"}, [written], [1e6])  # a late, large sample
        checked: list[tuple[int, int]] = []

        def stale_blocks(cur, span, read, known, kept):
            checked.extend(block for blocks in kept.values() for block in blocks)
            return real(cur, span, read, known, kept)

        real = sums.stale_blocks
        monkeypatch.setattr(sums, "stale_blocks", stale_blocks)
        later = NOW + timedelta(minutes=1)
        assert_same(numbers(slo_status(store, SLOS, later)), one_pass(store, later))
        assert len(joined_at_once) == 1, "a write leaves the marks vouching for nothing"
        written_ms = int((written - datetime(1970, 1, 1)).total_seconds() * 1000)
        assert all(start + length > written_ms for start, length in checked), (
            "blocks before the write were checked"
        )
