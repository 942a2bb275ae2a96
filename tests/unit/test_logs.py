"""The Logs filter language, counts that follow it, landing at a time, one line's fields."""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from pathlib import Path

import pyarrow as pa
import pytest

from console.screens import logs as lg
from console.store import Store
from console.store.ingest import LOG_SCHEMA, ingest_logs

NOW = datetime(2026, 11, 20, 12, 0)
START = NOW - timedelta(hours=1)

# (minutes after START, level, service, message, attributes)
LINES = [
    (0, "info", "fraud-scoring", "scored transaction batch", {"version": "3"}),
    (5, "warning", "fraud-scoring", "slow feature lookup", {"version": "3"}),
    (10, "info", "fraud-scoring", "Disk WARNING: 91% full", {"version": "3"}),
    (20, "error", "fraud-scoring", "upstream timeout calling feature-store", {"version": "3"}),
    (20, "error", "fraud-scoring", "prediction failed: model returned NaN score", {"version": "2"}),
    (30, "info", "payments", "request served", {}),
    (40, "error", "payments", "timeout talking to the bank", {}),
]


def write_lines(store: Store, lines: list[tuple], origin: str = "app.log") -> None:
    rows = [
        {
            "ts": START + timedelta(minutes=m),
            "source": "test",
            "service": service,
            "level": level,
            "message": message,
            "attributes": json.dumps(attrs),
            "raw": json.dumps({"level": level, "message": message, **attrs}),
            "parse_error": None,
            "origin": origin,
            "line_offset": i * 100,
        }
        for i, (m, level, service, message, attrs) in enumerate(lines)
    ]
    ingest_logs(store, pa.Table.from_pylist(rows, schema=LOG_SCHEMA))


@pytest.fixture
def store(tmp_path: Path):
    with Store.open(tmp_path / "s.duckdb") as opened:
        write_lines(opened, LINES)
        yield opened


def messages(store: Store, text: str) -> list[str]:
    f = lg.parse_filter(text, NOW)
    return [row[3] for row in lg.logs_window(store, f, newest_first=False)]


def test_a_plain_word_finds_it_in_the_level_or_the_message_in_any_case(store: Store) -> None:
    assert messages(store, "warning") == ["slow feature lookup", "Disk WARNING: 91% full"]
    assert messages(store, "TIMEOUT") == [
        "upstream timeout calling feature-store",
        "timeout talking to the bank",
    ]


def test_every_word_must_appear_and_a_quoted_phrase_is_one_word(store: Store) -> None:
    assert messages(store, "timeout payments") == ["timeout talking to the bank"]
    assert messages(store, "lookup slow") == ["slow feature lookup"]
    assert messages(store, '"lookup slow"') == []
    assert messages(store, '"slow feature"') == ["slow feature lookup"]


def test_regex_on_the_message_re_prefix_and_slashes(store: Store) -> None:
    both = ["upstream timeout calling feature-store", "prediction failed: model returned NaN score"]
    assert messages(store, "re:time(out)? calling|NaN") == both
    assert messages(store, "/timeout calling|NaN/") == both
    assert messages(store, "service=payments re:^timeout") == ["timeout talking to the bank"]
    assert messages(store, "re:warning") == []  # case-sensitive on the message only
    assert messages(store, "re:(?i)warning") == ["Disk WARNING: 91% full"]


def test_field_filters_still_work_beside_words(store: Store) -> None:
    assert messages(store, "level=error service=fraud-scoring") == [
        "upstream timeout calling feature-store",
        "prediction failed: model returned NaN score",
    ]
    assert messages(store, "level=ERROR timeout") == [
        "upstream timeout calling feature-store",
        "timeout talking to the bank",
    ]
    assert messages(store, "version=2") == ["prediction failed: model returned NaN score"]
    assert messages(store, "since=35m") == ["request served", "timeout talking to the bank"]
    assert messages(store, "until=2026-11-20T11:05 info") == ["scored transaction batch"]


def test_counts_follow_the_filter(store: Store) -> None:
    count = lambda text: lg.logs_count(store, lg.parse_filter(text, NOW))  # noqa: E731
    assert count("") == 7
    assert count("warning") == 2
    assert count("level=error") == 3
    assert count("re:NaN|bank") == 2
    assert count("service=payments") == 2


def test_bad_filters_say_what_to_fix(store: Store) -> None:
    with pytest.raises(lg.FilterError, match="bad time 'yesterday'"):
        lg.parse_filter("since=yesterday", NOW)
    with pytest.raises(lg.FilterError, match="missing \\]"):
        lg.check_pattern(store, "([")
    with pytest.raises(lg.FilterError, match="bad regular expression"):
        lg.check_pattern(store, r"(a)\1")  # a backreference: not RE2, never backtracks
    with pytest.raises(lg.FilterError, match="second"):
        lg.parse_filter("level=error /a/ /b/", NOW)


def test_a_regex_looks_at_the_capped_start_of_a_very_long_line(store: Store) -> None:
    write_lines(store, [(50, "info", "big", "x" * 1_000_000 + " needle", {})], origin="big.log")
    assert lg.logs_count(store, lg.parse_filter("service=big re:needle", NOW)) == 0
    assert lg.logs_count(store, lg.parse_filter("service=big re:x$", NOW)) == 1
    assert lg.logs_count(store, lg.parse_filter("service=big needle", NOW)) == 1  # a word: whole line


def test_landing_is_the_first_line_at_or_after_the_time(store: Store) -> None:
    f = lg.parse_filter("service=fraud-scoring", NOW)
    spot = lg.landing(store, f, START + timedelta(minutes=7))
    assert spot is not None and spot.ts == START + timedelta(minutes=10)
    window = lg.logs_window(store, f)  # newest first
    assert window[spot.newer][3] == "Disk WARNING: 91% full"
    same_ts = lg.landing(store, f, START + timedelta(minutes=20))
    assert same_ts is not None and window[same_ts.newer][3] == "upstream timeout calling feature-store"
    assert lg.landing(store, f, NOW) is None


def test_one_line_with_every_field(store: Store) -> None:
    ts, _, _, _, origin, offset = lg.logs_window(store, lg.parse_filter("version=2", NOW))[0]
    record = lg.log_line(store, ts, origin, offset)
    assert record is not None
    assert record["attributes"] == {"version": "2"}
    assert set(lg.ALL_FIELDS) == set(record)
    assert lg.log_line(store, ts, origin, offset + 1) is None
