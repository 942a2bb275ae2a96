"""collectors/validate.py: what parses as a number, the window, counting by reason, and how
the counts are kept with the source's health (console/store/refused.py)."""

from __future__ import annotations

import json
import math
from datetime import datetime, timedelta
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pytest
from pydantic import ValidationError

from collectors.base import TimedOptions
from collectors.validate import (
    FALLBACK_PAST,
    Accept,
    Refusals,
    Window,
    check,
    number,
    numbers,
    sample_table,
    timestamps,
)
from console.config.durations import rough_duration
from console.store import Store
from console.store.refused import entry_text, record_refused, refused_json, refused_text

NOW = datetime(2026, 11, 26, 12, 0)
NOW_S = (NOW - datetime(1970, 1, 1)).total_seconds()
READABLE = ["1", "-2.5", "+3", ".5", "5.", "1e-3", "1E+400", "NaN", "nan", "+Inf", "-Inf", "inf", "Infinity"]
UNREADABLE = ["abc", "1_0", "", " 1", "1 ", "0x10", "1e", "--1", "Inf1", "١"]


def window(past: float = 3600, future: float = 600) -> Window:
    return Window(NOW_S, past, future)


def test_numbers_reads_prometheus_values_and_nulls_what_is_not_one() -> None:
    got = numbers(READABLE + UNREADABLE).to_pylist()
    assert got[:7] == [1.0, -2.5, 3.0, 0.5, 5.0, 0.001, math.inf]
    assert all(math.isnan(v) for v in got[7:9]) and got[9:13] == [math.inf, -math.inf, math.inf, math.inf]
    assert got[len(READABLE) :] == [None] * len(UNREADABLE)


def test_numbers_takes_mixed_kinds_and_ints_beyond_any_float() -> None:
    assert numbers([1, 2.5, None]).to_pylist() == [1.0, 2.5, None]
    assert numbers([10**400, -(10**400), 3]).to_pylist() == [math.inf, -math.inf, 3.0]
    assert numbers(["1", 2, True, {"a": 1}, [1], None]).to_pylist() == [1.0, 2.0, None, None, None, None]
    assert numbers([True, False]).to_pylist() == [None, None]
    assert numbers([]).to_pylist() == []
    assert [number(v) for v in ("1.5", "x", 10**400, True, None)] == [1.5, None, math.inf, None, None]


def test_what_the_pattern_lets_through_arrow_reads() -> None:
    """Each text the pattern accepts casts (a cast error would fail the whole batch)."""
    texts = [*READABLE, "0", "00.00e00", "9" * 500, "1e99999999999999999999", "-.0E-0", "INF", "NAN"]
    assert None not in numbers(texts).to_pylist()


def test_check_keeps_the_window_inclusive_and_counts_each_row_once() -> None:
    stamps = pa.array(
        [
            NOW_S,
            NOW_S - 3600,
            NOW_S + 600,
            NOW_S + 601,
            NOW_S - 3601,
            math.nan,
            None,
            math.inf,
            -math.inf,
            NOW_S + 7200,
            NOW_S,
        ],
        pa.float64(),
    )
    values = pa.array([1.0, math.nan, math.inf, None, None, 1.0, 1.0, 1.0, 1.0, None, None])
    refused = Refusals()
    keep = check(stamps, values, window(), refused)
    assert keep.to_pylist() == [True, True, True] + [False] * 8
    found = {(e["what"], e["why"]): e for e in refused.entries()}
    assert {k: e["count"] for k, e in found.items()} == {
        ("timestamp", "future"): 3,
        ("timestamp", "past"): 2,
        ("timestamp", "unparsed"): 2,
        ("value", "unparsed"): 1,
    }  # a row bad twice counts under its timestamp
    assert found["timestamp", "future"]["least"] == 601 and found["timestamp", "future"]["most"] == math.inf
    assert found["timestamp", "future"]["text"] == "3 refused: timestamp 10m to ∞ in the future (limit 10m)"


def test_a_refusal_over_several_batches_adds_up() -> None:
    refused = Refusals()
    check(pa.array([NOW_S + 7200]), None, window(), refused)
    check(pa.array([NOW_S + 700, NOW_S + 7200 * 12]), None, window(), refused)
    check(pa.array([NOW_S]), None, window(), refused)
    assert [e["text"] for e in refused.entries()] == [
        "3 refused: timestamp 12m to 1d in the future (limit 10m)"
    ]
    assert refused.total == 3


def test_the_window_past_bound_is_the_option_then_retention_then_ten_years() -> None:
    assert Window.of(Accept(past="2h"), NOW, 30).lo == NOW_S - 7200
    assert Window.of(Accept(), NOW, 30).lo == NOW_S - 30 * 86400
    assert Window.of(Accept(), NOW, None).lo == NOW_S - FALLBACK_PAST.total_seconds()
    assert Window.of(Accept(future="1h"), NOW, None).hi == NOW_S + 3600
    assert Window.of(Accept(), NOW, None).hi == NOW_S + 600


def test_the_accept_option_is_checked_like_every_option() -> None:
    assert TimedOptions().accept == Accept(future=timedelta(minutes=10))
    assert TimedOptions(accept={"past": "7d"}).accept.past == timedelta(days=7)
    with pytest.raises(ValidationError, match="not a duration"):
        TimedOptions(accept={"past": "soon"})
    with pytest.raises(ValidationError, match="Extra inputs"):
        TimedOptions(accept={"futur": "1h"})


def test_sample_table_keeps_valid_rows_exactly_and_never_overflows() -> None:
    refused = Refusals()
    table = sample_table(
        ["a", "b", "c", "d"],
        ["{}"] * 4,
        [NOW_S - 0.0000015, 1e25, -1e300, "x"],
        ["1", "2", "3", "4"],
        window(),
        refused,
    )
    assert table.column("name").to_pylist() == ["a"]
    assert table.column("ts").to_pylist() == [NOW - timedelta(microseconds=2)]  # rounded to µs
    assert table.schema.field("ts").type == pa.timestamp("us")
    assert refused.total == 3


def test_a_large_batch_is_checked_whole() -> None:
    count = 500_000
    stamps = pc.add(pa.array([NOW_S] * count), pa.array([float(i % 7200) for i in range(count)]))
    refused = Refusals()
    keep = check(stamps, None, window(), refused)
    kept = sum(1 for i in range(count) if i % 7200 <= 600)
    assert pc.sum(keep).as_py() == kept and refused.total == count - kept
    assert timestamps(pc.filter(stamps, keep)).type == pa.timestamp("us")


def test_texts_a_user_reads() -> None:
    assert [rough_duration(s) for s in (45, 90, 3600, 5400, 3 * 86400, 1795694401, 1e25)] == [
        "45s",
        "1.5m",
        "1h",
        "1.5h",
        "3d",
        "57y",
        "3.2e+17y",
    ]
    assert (
        entry_text(
            {
                "what": "timestamp",
                "why": "past",
                "count": 1,
                "least": 86400 * 3,
                "most": 86400 * 3,
                "limit": 86400,
            }
        )
        == "1 refused: timestamp 3d in the past (limit 1d)"
    )
    assert entry_text({"what": "value", "why": "unparsed", "count": 2}) == "2 refused: value does not parse"


def test_the_last_run_is_replaced_and_the_totals_kept(tmp_path: Path) -> None:
    first = Refusals()
    first.add("timestamp", "future", 3, 7200, 7200, 600)
    first.add("value", "unparsed", 1)
    with Store.open(tmp_path / "s.duckdb") as store:
        with store.transaction() as cur:
            record_refused(cur, "quiet", [], NOW)  # nothing ever refused: no row
            record_refused(cur, "src", first.entries(), NOW)
            record_refused(cur, "src", first.entries(), NOW)
        raw = store.query("SELECT refused FROM collector_state WHERE name = 'src'")[1][0][0]
        assert refused_text(raw) == (
            "3 refused: timestamp 2h in the future (limit 10m); 1 refused: value does not parse"
        )
        assert refused_json(raw)["total"] == {"timestamp future": 6, "value unparsed": 2}
        with store.transaction() as cur:
            record_refused(cur, "src", [], NOW)
        raw = store.query("SELECT refused FROM collector_state WHERE name = 'src'")[1][0][0]
        assert store.query("SELECT count(*) FROM collector_state WHERE name = 'quiet'")[1] == [(0,)]
    assert refused_text(raw) == "" and json.loads(raw)["total"]["timestamp future"] == 6
    assert refused_json(None) == {"last_run": [], "total": {}}
