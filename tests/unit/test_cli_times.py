"""The one reader of command-line times: every form, every bad value in one line, and `-2h`
getting through argparse as a value on every command that takes a time."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest

from console.cli.context import CliError
from console.cli.main import build_parser, main
from console.cli.times import parse_time

NOW = datetime(2026, 11, 20, 12, 0, 0)


@pytest.mark.parametrize(
    "text, expected",
    [
        ("now", NOW),
        (" NOW ", NOW),
        ("-2h", NOW - timedelta(hours=2)),
        ("-30m", NOW - timedelta(minutes=30)),
        ("-1d", NOW - timedelta(days=1)),
        ("now-1h30m", NOW - timedelta(hours=1, minutes=30)),
        ("+15m", NOW + timedelta(minutes=15)),
        ("2026-11-20T08:00:00Z", datetime(2026, 11, 20, 8)),
        ("2026-11-20T08:00:00z", datetime(2026, 11, 20, 8)),
        ("2026-11-20T08:00:00", datetime(2026, 11, 20, 8)),  # no offset: UTC
        ("2026-11-20 08:00", datetime(2026, 11, 20, 8)),
        ("2026-11-20", datetime(2026, 11, 20)),
        ("2026-11-20T09:30:00+01:30", datetime(2026, 11, 20, 8)),
        ("2026-11-20T08:00:00.250Z", datetime(2026, 11, 20, 8, 0, 0, 250000)),
        ("1795161600", datetime(2026, 11, 20, 8)),
        ("1795161600.5", datetime(2026, 11, 20, 8, 0, 0, 500000)),
        ("1.7951616e9", datetime(2026, 11, 20, 8)),
        ("0", datetime(1970, 1, 1)),
    ],
)
def test_forms(text, expected):
    assert parse_time(text, NOW) == expected


@pytest.mark.parametrize(
    "text",
    ["", "-", "now-", "2h", "yesterday", "-2x", "2026-13-01", "2026-11-20T25:00", "nan", "1e999", "9" * 30],
)
def test_bad_values_name_the_option_and_the_forms(text):
    with pytest.raises(CliError) as caught:
        parse_time(text, NOW, "--to")
    message = str(caught.value)
    assert caught.value.code == 2 and "\n" not in message
    assert message.startswith(f"--to: not a time: {text!r}; use ")
    assert all(form in message for form in ("RFC 3339", "UTC", "epoch seconds", "-2h", "-30m", "-1d", "now"))


@pytest.mark.parametrize(
    "argv, dest",
    [
        (["slo", "--at", "-2h"], "at"),
        (["slo", "backtest", "x", "--at", "-2h", "--from", "-1d"], "start"),
        (["alerts", "--at", "-30m"], "at"),
        (["alerts", "silence", "a=b", "--comment", "c", "--start", "-5m"], "start"),
        (["rules", "eval", "--dry-run", "--at", "-1d"], "at"),
        (["rules", "backtest", "--from", "-6h"], "start"),
        (["drift", "m", "--at", "-2h"], "at"),
        (["incident", "list", "--at", "-2h"], "at"),
        (["incident", "show", "1", "--at", "-2h"], "at"),
        (["query", "--promql", "up", "--at", "-5m"], "at"),
    ],
)
def test_a_relative_time_is_a_value_not_an_option(argv, dest):
    args = build_parser().parse_args(argv)
    assert getattr(args, dest).startswith("-")


def test_slo_at_before_backtest_is_kept():
    parse = build_parser().parse_args
    assert parse(["slo", "--at", "-2h", "backtest", "x"]).at == "-2h"
    assert parse(["slo", "backtest", "x", "--at", "-3h"]).at == "-3h"
    assert parse(["slo", "backtest", "x"]).at is None


@pytest.mark.parametrize(
    "argv",
    [
        ["slo", "--at", "soon"],
        ["slo", "backtest", "--all", "--at", "soon"],
        ["alerts", "--at", "soon"],
        ["rules", "eval", "--dry-run", "--at", "soon"],
        ["incident", "list", "--at", "soon"],
    ],
)
def test_a_bad_time_is_said_before_the_store_is_opened(tmp_path, capsys, argv):
    # no store file here: the time is what is wrong, and said first (nothing is forwarded either)
    (tmp_path / "oncall.yaml").write_text("store: missing.duckdb\n")
    with pytest.raises(SystemExit) as exited:
        main(["-w", str(tmp_path), *argv])
    assert exited.value.code == 2
    assert capsys.readouterr().err.startswith("oncall: --at: not a time: 'soon'; use ")
    assert not (tmp_path / "missing.duckdb").exists()
