"""A fresh process trusts persisted rollups the store's state vouches for without reading every
sample, and a late or deleted sample still makes it read the blocks again."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path

import pytest

from console.slo import rollups, sums
from console.slo.blocks import HOUR_MS
from console.slo.status import slo_status
from console.slo.sums import clear_cache
from console.store import Store
from tests.unit import test_slo_sums
from tests.unit.test_slo_sums import NOW, SLOS, assert_same, numbers, one_pass, put

path = test_slo_sums.path  # the fixture: 9 days of 4 counters at 10 minutes


class Reads:
    """What a status computation read of the samples: the blocks it read, and the series whose
    kept blocks it checked against the samples (each such check scans the whole span)."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.blocks: list[tuple[int, int]] = []
        self.checked: list[int] = []
        read, changed = sums.read_blocks, rollups._changed_series

        def read_blocks(cur, span, wanted, raw):
            self.blocks += wanted
            return read(cur, span, wanted, raw)

        def changed_series(cur, span, read_, known, kept):
            self.checked += [i for i in span.ids if kept[i]]
            return changed(cur, span, read_, known, kept)

        monkeypatch.setattr(sums, "read_blocks", read_blocks)
        monkeypatch.setattr(rollups, "_changed_series", changed_series)


@pytest.fixture()
def reads(monkeypatch: pytest.MonkeyPatch) -> Reads:
    return Reads(monkeypatch)


def fresh_status(path: Path, now: datetime, *, writable: bool = True) -> list:
    """`oncall slo` in a new process: nothing in memory, rollups from the store."""
    clear_cache()
    opened = Store.open(path, repair=False) if writable else Store.open_read(path)
    with opened as store:
        return numbers(slo_status(store, SLOS, now, cache=False))


@pytest.fixture()
def built(path: Path) -> Path:
    """The rollups and their marks written by a first `oncall slo` (a writable store)."""
    fresh_status(path, NOW)
    return path


def reference(path: Path, now: datetime) -> list:
    with Store.open_read(path) as store:
        return one_pass(store, now)


def test_warm_status_checks_no_kept_block_and_equals_one_pass(built: Path, reads: Reads) -> None:
    for writable in (True, False):
        reads.blocks.clear()
        answer = fresh_status(built, NOW, writable=writable)
        assert reads.checked == []  # no kept block checked: no scan of the span's samples
        # only the few hours a window boundary, `now` or the span's start falls into
        assert reads.blocks and all(length == HOUR_MS for _, length in reads.blocks)
        assert len(reads.blocks) <= 8
        assert_same(answer, reference(built, NOW))


def test_a_late_sample_in_a_kept_day_is_still_noticed(built: Path, reads: Reads) -> None:
    before = fresh_status(built, NOW)
    late = NOW - timedelta(
        days=4, hours=6, minutes=3
    )  # off the 10-minute grid, inside a finished day a mark vouched for
    with Store.open(built) as writer:
        put(writer, {"pod": "a", "code": "500"}, [late], [0.0])  # a dip: a reset
    after = fresh_status(built, NOW)
    assert reads.checked  # the store's state changed: the kept blocks were checked
    assert after != before
    assert_same(after, reference(built, NOW))
    reads.checked.clear()
    again = fresh_status(built, NOW)  # checked once, vouched for again
    assert reads.checked == []
    assert_same(again, reference(built, NOW))


def test_samples_deleted_outside_ingest_are_noticed(built: Path) -> None:
    before = fresh_status(built, NOW)
    with Store.open(built) as writer:  # no journaled commit: the sample count tells
        writer.query(
            "DELETE FROM sample_rows WHERE ts BETWEEN ? AND ?",
            [NOW - timedelta(days=3), NOW - timedelta(days=2)],
        )
    after = fresh_status(built, NOW)
    assert after != before
    assert_same(after, reference(built, NOW))


def test_a_later_clock_checks_only_what_no_mark_covers(built: Path) -> None:
    later = NOW + timedelta(hours=3)
    assert_same(fresh_status(built, later), reference(built, later))
    with Store.open(built) as writer:
        put(writer, {"pod": "b", "code": "500"}, [NOW - timedelta(days=6, minutes=3)], [0.0])
    assert_same(fresh_status(built, later), reference(built, later))


def test_retention_makes_every_mark_stale(built: Path) -> None:
    with Store.open(built) as writer:
        writer.apply_retention(NOW, {"samples": 5})
        marks = writer.query("SELECT count(*) FROM slo_rollups WHERE start_ms = -1")[1][0][0]
        assert marks == 0  # pruned with the rollups before the cutoff
    assert_same(fresh_status(built, NOW), reference(built, NOW))


def test_a_block_persisted_whole_and_later_read_in_hours_is_not_vouched_for(built: Path) -> None:
    later = NOW + timedelta(days=1)
    fresh_status(built, later)  # the day three days before NOW persisted as a whole day
    day = (NOW - timedelta(days=3)).replace(hour=5, minute=3)
    with Store.open(built) as writer:
        put(writer, {"pod": "a", "code": "500"}, [day], [0.0])  # a late sample in that day
    # at NOW a window starts inside that day: it is read in hours, the whole day is not checked
    assert_same(fresh_status(built, NOW), reference(built, NOW))
    assert_same(fresh_status(built, later), reference(built, later))  # nor trusted later
