"""A live refresh is coalesced: never two reads at once, and changes heard during one read make
exactly one more read after it."""

from __future__ import annotations

from typing import Any

from console.tui.live import Coalesced


class FakeWorker:
    def __init__(self) -> None:
        self.is_finished = False


def test_changes_during_a_read_make_one_more_read_after_it() -> None:
    started: list[FakeWorker] = []

    def start() -> Any:
        started.append(FakeWorker())
        return started[-1]

    reads = Coalesced(start, lambda: None)
    reads.demand()
    for _ in range(30):  # a burst while the first read runs
        reads.demand()
    assert len(started) == 1
    started[0].is_finished = True
    reads.finished(started[0])
    assert len(started) == 2  # the burst: one more read, not thirty
    started[1].is_finished = True
    reads.finished(started[1])
    assert len(started) == 2  # nothing heard since: nothing more
    reads.finished(FakeWorker())  # another worker's end is not ours
    assert len(started) == 2
    reads.demand()
    assert len(started) == 3


def test_a_refresh_already_under_way_is_waited_for_not_cancelled() -> None:
    periodic = FakeWorker()
    started: list[FakeWorker] = []

    def start() -> Any:
        started.append(FakeWorker())
        return started[-1]

    under_way: list[FakeWorker] = [periodic]
    reads = Coalesced(start, lambda: under_way[0] if not under_way[0].is_finished else None)
    reads.demand()
    assert started == []  # the periodic read runs on; the change is served after it
    periodic.is_finished = True
    reads.finished(periodic)
    assert len(started) == 1
