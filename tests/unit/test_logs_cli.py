"""`oncall logs PATTERN` for scripts: patterns, time bounds, service, JSON, exit codes, escaping."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path

import pytest

from console.cli.main import main
from console.store import Store
from tests.unit.test_logs import LINES, NOW, START, write_lines


@pytest.fixture
def store_path(tmp_path: Path) -> str:
    path = tmp_path / "s.duckdb"
    with Store.open(path) as store:
        write_lines(store, LINES)
        hostile = [
            (45, "error", "payments", "card \x1b]0;pwned\x07 declined \u202eevil\r\nforged", {"k": "\x1b[2J"})
        ]
        write_lines(store, hostile, origin="hostile.log")
    return str(path)


def logs(capsys, store_path: str, *args: str) -> tuple[int, list[str], str]:
    try:
        code = main(["logs", "--store", store_path, *args], clock=lambda: NOW)
    except SystemExit as exc:
        code = int(exc.code or 0)
    out, err = capsys.readouterr()
    return code, out.splitlines(), err


def test_lines_whose_message_matches_oldest_first_exit_0(capsys, store_path: str) -> None:
    code, lines, _ = logs(capsys, store_path, "timeout|NaN")
    assert code == 0
    assert [line.split(" ", 3)[3] for line in lines] == [
        "upstream timeout calling feature-store",
        "prediction failed: model returned NaN score",
        "timeout talking to the bank",
    ]
    assert lines[0].startswith("2026-11-20T11:20:00.000Z error fraud-scoring ")


def test_since_until_and_service_narrow_it(capsys, store_path: str) -> None:
    assert len(logs(capsys, store_path, "timeout", "--since", "30m")[1]) == 1
    assert (
        len(logs(capsys, store_path, "timeout", "--since", "now-2h", "--until", "2026-11-20T11:30")[1]) == 1
    )
    _, lines, _ = logs(capsys, store_path, ".", "--service", "payments")
    assert {line.split(" ")[2] for line in lines} == {"payments"} and len(lines) == 3


def test_count_and_json(capsys, store_path: str) -> None:
    assert logs(capsys, store_path, "--count", "timeout|NaN")[:2] == (0, ["3"])
    assert logs(capsys, store_path, "--count", "--format", "json", "bank")[1] == ['{"count": 1}']
    code, lines, _ = logs(capsys, store_path, "--format", "json", "NaN")
    assert code == 0
    record = json.loads(lines[0])
    assert record["message"] == "prediction failed: model returned NaN score"
    assert record["attributes"] == {"version": "2"}
    assert record["ts"] == (START + timedelta(minutes=20)).isoformat(timespec="milliseconds") + "Z"
    assert {"level", "service", "origin", "line_offset", "raw", "source"} <= set(record)


def test_exit_1_when_nothing_matches_2_for_a_bad_pattern_or_time(capsys, store_path: str) -> None:
    assert logs(capsys, store_path, "no such thing")[:2] == (1, [])
    assert logs(capsys, store_path, "--count", "no such thing")[:2] == (1, ["0"])
    code, lines, err = logs(capsys, store_path, "([")
    assert (code, lines) == (2, []) and "bad regular expression '([': missing ]" in err
    assert "Traceback" not in err
    code, _, err = logs(capsys, store_path, "x", "--since", "yesterday")
    assert code == 2 and "bad time 'yesterday'" in err
    assert logs(capsys, store_path)[0] == 2  # no PATTERN: usage


def test_control_characters_come_out_escaped(capsys, store_path: str) -> None:
    _, lines, _ = logs(capsys, store_path, "declined")
    assert len(lines) == 1  # the \r\n did not forge a second line
    assert "\x1b" not in lines[0] and "\u202e" not in lines[0] and "\r" not in lines[0]
    assert "card \\x1b]0;pwned\\x07 declined \\u202eevil\\r\\nforged" in lines[0]
    _, lines, _ = logs(capsys, store_path, "--format", "json", "declined")
    assert len(lines) == 1 and "\x1b" not in lines[0] and "\u202e" not in lines[0]
    record = json.loads(lines[0])
    assert record["message"] == "card \x1b]0;pwned\x07 declined \u202eevil\r\nforged"  # the same value back
    assert record["attributes"] == {"k": "\x1b[2J"}
