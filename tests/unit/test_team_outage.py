"""The last answers a console keeps for an outage of the team database, and what it says then."""

from __future__ import annotations

from datetime import datetime, timedelta

from console.team.outage import LastAnswers, Outage, answer_key, why

T0 = datetime(2026, 11, 20, 9, 32, 10)
WHERE = "postgresql://***@db.internal:5432/oncall"


def test_the_least_recently_used_answer_is_dropped_first() -> None:
    answers = LastAnswers(max_answers=3)
    for n in range(3):
        answers.put(answer_key("SELECT ?", [n]), (["n"], [(n,)]))
    assert answers.get(answer_key("SELECT ?", [0])) == (["n"], [(0,)])  # used: kept
    answers.put(answer_key("SELECT ?", [3]), (["n"], [(3,)]))
    assert len(answers) == 3
    assert answers.get(answer_key("SELECT ?", [1])) is None
    assert answers.get(answer_key("SELECT ?", [0])) is not None


def test_an_answer_too_big_to_keep_drops_the_older_one() -> None:
    answers = LastAnswers(max_rows=2)
    key = answer_key("SELECT id FROM incidents", None)
    answers.put(key, (["id"], [(1,)]))
    answers.put(key, (["id"], [(1,), (2,), (3,)]))
    assert answers.get(key) is None  # never the smaller, older answer as if it were the last


def test_a_read_as_of_a_later_now_gets_the_answer_as_of_the_last_contact() -> None:
    answers = LastAnswers()
    sql = "SELECT id FROM silences WHERE ends_at > ? AND source = ?"
    answers.put(answer_key(sql, [T0, "console"]), (["id"], [("s1",)]))
    assert answers.get(answer_key(sql, [T0 + timedelta(seconds=4), "console"])) == (["id"], [("s1",)])
    assert answers.get(answer_key(sql, [T0, "alertmanager"])) is None  # other values: another read
    assert answers.get(answer_key("SELECT id FROM silences WHERE ? > 0", [1])) is None


def test_answers_are_copies() -> None:
    answers = LastAnswers()
    key = answer_key("SELECT 1", [])
    answers.put(key, (["x"], [(1,)]))
    got = answers.get(key)
    assert got is not None
    got[1].append((2,))
    assert answers.get(key) == (["x"], [(1,)])


def test_what_the_console_says_during_an_outage() -> None:
    error = why(
        f"team database {WHERE} is unreachable: connection failed: connection to server at "
        '"db.internal", port 5432 failed: Connection refused'
    )
    outage = Outage(WHERE, T0, error, T0 - timedelta(seconds=5))
    assert outage.line() == (
        f"team database {WHERE} unreachable since 09:32:10 UTC (connection failed: connection to "
        'server at "db.internal", port 5432 failed: Connection refused): shared state as of '
        "09:32:05 UTC, read-only; metrics still live"
    )
    assert outage.refusal().endswith(
        ": the change was not recorded; nothing is queued — retry when it is back"
    )
    assert (
        Outage(WHERE, T0, "timeout expired", None)
        .line()
        .endswith("(timeout expired): no shared state read yet, read-only; metrics still live")
    )
    lost = why(f"team database {WHERE}: query failed: terminating connection due to administrator command")
    assert lost == "terminating connection due to administrator command"
