"""Silences (matchers incl. regex, start, end, expire early) and inhibition with `equal`."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest

from console.alerts.persistence import load_alerts
from console.alerts.silences import create_silence, expire_silence, load_silences, silenced_by
from console.alerts.state import AlertEngine
from console.rules.matchers import InhibitRule, Matcher, inhibited_by, parse_matcher
from console.rules.model import Rule
from console.store import Store

NOW = datetime(2026, 3, 1, 12, 0)
H = timedelta(hours=1)
LABELS = {"alertname": "HighErrors", "service": "checkout", "severity": "page", "env": "prod"}

MATCHERS = [
    ('service="checkout"', True),
    ("service=checkout", True),
    ('service!="checkout"', False),
    ('service=~"check.*"', True),
    ('service=~"check"', False),  # regexes match the whole value
    ('service!~"pay.*"', True),
    ('team=""', True),  # a missing label is the empty string
    ('team=~".+"', False),
]


@pytest.mark.parametrize("text,expected", MATCHERS, ids=[m[0] for m in MATCHERS])
def test_matchers(text, expected):
    assert parse_matcher(text).matches(LABELS) is expected


@pytest.mark.parametrize("text", ["service", "service==x", 'service=~"("', "9x=y"])
def test_bad_matchers_say_why(text):
    with pytest.raises(ValueError, match="matcher"):
        parse_matcher(text)


# Python's re takes these; Alertmanager (Go, RE2 syntax) refuses them.
PYTHON_ONLY = ["api(?=-v2)", "(?<!x)api", "(a)\\1", "a++", "(?>a)", "a*+", "(?P=x)"]


@pytest.mark.parametrize("pattern", PYTHON_ONLY)
def test_regexes_that_are_not_re2_syntax_are_refused(pattern):
    with pytest.raises(ValueError, match="not RE2 syntax"):
        parse_matcher(f"service=~{pattern}")


def test_regexes_are_anchored_and_dot_does_not_cross_lines():
    assert parse_matcher("service=~ap").matches({"service": "api"}) is False
    assert parse_matcher("service=~ap|web").matches({"service": "web"}) is True
    assert parse_matcher("service=~ap.*").matches({"service": "ap\nx"}) is False


@pytest.mark.parametrize("texts", [['team=""'], ['team=~".*"'], ['team=""', 'env=~"|prod"'], ["team=~x*"]])
def test_a_silence_that_matches_the_empty_string_everywhere_is_refused(tmp_path, texts):
    store = Store.open(tmp_path / "s.duckdb")
    with pytest.raises(ValueError, match="at least one matcher must not match the empty string"):
        create_silence(
            store, [parse_matcher(t) for t in texts], NOW, NOW + H, created_by="ana", comment="x", now=NOW
        )
    assert store.query("SELECT count(*) FROM silences")[1] == [(0,)]
    assert store.query("SELECT count(*) FROM audit")[1] == [(0,)]
    store.close()


@pytest.mark.parametrize("texts", [['team!="x"'], ['team=""', "alertname=A"], ["team!~.*"]])
def test_silences_alertmanager_accepts(tmp_path, texts):
    store = Store.open(tmp_path / "s.duckdb")
    create_silence(
        store, [parse_matcher(t) for t in texts], NOW, NOW + H, created_by="ana", comment="x", now=NOW
    )
    assert len(load_silences(store, NOW)) == 1
    store.close()


def test_a_stored_silence_alertmanager_would_refuse_mutes_nothing_and_says_so(tmp_path):
    store = Store.open(tmp_path / "s.duckdb")
    with store.transaction() as cur:  # as an older oncall stored it
        cur.execute(
            "INSERT INTO silences (id, matchers, starts_at, ends_at) VALUES (?, ?, ?, ?)",
            ["old1", '[{"name": "team", "value": "", "op": "="}]', NOW, NOW + H],
        )
    (silence,) = load_silences(store, NOW)
    assert silence.state(NOW) == "refused" and "empty string" in silence.refused
    assert silenced_by(LABELS, [silence], NOW) == []
    store.close()


def test_silence_window_and_early_expiry(tmp_path):
    store = Store.open(tmp_path / "s.duckdb")
    silence = create_silence(
        store,
        [parse_matcher('service=~"check.*"'), parse_matcher("env=prod")],
        NOW + H,
        NOW + 3 * H,
        created_by="ana",
        comment="maintenance",
        now=NOW,
    )
    (loaded,) = load_silences(store, NOW)
    assert loaded.matchers == silence.matchers and loaded.comment == "maintenance"
    assert silenced_by(LABELS, [loaded], NOW) == []  # not started
    assert silenced_by(LABELS, [loaded], NOW + 2 * H) == [silence.id]  # active
    assert silenced_by({**LABELS, "env": "dev"}, [loaded], NOW + 2 * H) == []
    expire_silence(store, loaded, now=NOW + 2 * H, actor="ana")
    (after,) = load_silences(store, NOW + 2 * H - timedelta(seconds=1))
    assert after.ends_at == NOW + 2 * H
    assert silenced_by(LABELS, [after], NOW + 2 * H) == []
    assert load_silences(store, NOW + 2 * H) == []
    assert len(load_silences(store, NOW + 2 * H, include_expired=True)) == 1
    store.close()


def test_inhibition_needs_equal_labels():
    rule = InhibitRule([Matcher("severity", "page")], [Matcher("severity", "ticket")], ["service"])
    firing = [("p1", {"severity": "page", "service": "checkout"})]
    assert inhibited_by("t1", {"severity": "ticket", "service": "checkout"}, firing, [rule]) == ["p1"]
    assert inhibited_by("t2", {"severity": "ticket", "service": "search"}, firing, [rule]) == []
    assert inhibited_by("p1", {"severity": "page", "service": "checkout"}, firing, [rule]) == []


CRITICAL = InhibitRule([Matcher("severity", "critical")], [Matcher("severity", "critical")], ["service"])


def test_alerts_matching_both_sides_do_not_inhibit_each_other():
    a = {"alertname": "A", "severity": "critical", "service": "checkout"}
    b = {"alertname": "B", "severity": "critical", "service": "checkout"}
    firing = [("a", a), ("b", b)]
    assert inhibited_by("a", a, firing, [CRITICAL]) == []
    assert inhibited_by("b", b, firing, [CRITICAL]) == []
    # an alert matching only the source side does inhibit a two-sided one
    rule = InhibitRule(
        [Matcher("severity", "critical|page", "=~")], [Matcher("severity", "critical")], ["service"]
    )
    page = {"alertname": "P", "severity": "page", "service": "checkout"}
    assert inhibited_by("a", a, [*firing, ("p", page)], [rule]) == ["p"]


def test_equal_on_a_label_missing_on_both_sides_is_equal():
    rule = InhibitRule([Matcher("severity", "page")], [Matcher("severity", "ticket")], ["service", "team"])
    firing = [("p", {"severity": "page", "service": "checkout"})]
    assert inhibited_by("t", {"severity": "ticket", "service": "checkout"}, firing, [rule]) == ["p"]
    assert (
        inhibited_by("t", {"severity": "ticket", "service": "checkout", "team": "ml"}, firing, [rule]) == []
    )


def test_muted_alerts_report_suppressed_and_muted_sources_still_inhibit():
    from console.alerts.lifecycle import Alert
    from console.alerts.muting import apply_silences, reported_state
    from console.alerts.silences import Silence

    page = Alert("p", "r", "P", {"alertname": "P", "severity": "page", "service": "x"}, "firing")
    ticket = Alert("t", "r", "T", {"alertname": "T", "severity": "ticket", "service": "x"}, "firing")
    pending = Alert("q", "r", "Q", {"alertname": "P", "severity": "ticket", "service": "x"}, "pending")
    silence = Silence("s1", [Matcher("alertname", "P")], NOW - H, NOW + H)
    rule = InhibitRule([Matcher("severity", "page")], [Matcher("severity", "ticket")], ["service"])
    apply_silences([page, ticket, pending], [], [silence], [rule], NOW)
    assert (page.silenced_by, page.inhibited_by) == (["s1"], [])
    assert (ticket.silenced_by, ticket.inhibited_by) == ([], ["p"])  # a silenced page inhibits
    assert [reported_state(a) for a in (page, ticket, pending)] == ["suppressed", "suppressed", "pending"]
    assert page.state == ticket.state == "firing"  # the rule's state machine is untouched


def test_engine_marks_silenced_and_slo_page_inhibits_ticket(tmp_path):
    store = Store.open(tmp_path / "s.duckdb")
    rules = [
        Rule(
            "Burn",
            "SELECT 'api' AS slo, 14.4 AS value",
            group="page",
            labels={"severity": "page"},
            source="slo",
        ),
        Rule(
            "Burn",
            "SELECT 'api' AS slo, 3.0 AS value",
            group="ticket",
            labels={"severity": "ticket"},
            source="slo",
        ),
        Rule("Other", "SELECT 'web' AS slo, 3.0 AS value", labels={"severity": "ticket"}),
    ]
    create_silence(
        store, [Matcher("alertname", "Other")], NOW, NOW + H, created_by="ana", comment="known", now=NOW
    )
    AlertEngine(store, rules).run(NOW)
    alerts = {(a.rule, a.labels["severity"]): a for a in load_alerts(store)}
    page, ticket = alerts[("page/Burn", "page")], alerts[("ticket/Burn", "ticket")]
    other = alerts[("default/Other", "ticket")]
    assert page.inhibited_by == [] and page.silenced_by == []
    assert ticket.inhibited_by == [page.fingerprint]
    assert other.inhibited_by == [] and len(other.silenced_by) == 1
    store.close()


def test_alerts_cli_lists_muted_alerts_as_suppressed(tmp_path, oncall):
    import json

    (tmp_path / "rules").mkdir()
    (tmp_path / "rules" / "r.yaml").write_text(
        "groups:\n  - name: g\n    rules:\n"
        "      - alert: Down\n        expr: SELECT 'api' AS service, 1.0 AS value\n"
        "        labels: {severity: critical}\n"
        "      - alert: Errors\n        expr: SELECT 'api' AS service, 1.0 AS value\n"
        "        labels: {severity: critical}\n"
        "      - alert: Slow\n        expr: SELECT 'api' AS service, 1.0 AS value\n"
        "        labels: {severity: warning}\n"
        "inhibit_rules:\n"
        "  - source_matchers: ['severity=\"critical\"']\n"
        "    target_matchers: ['severity=~\"critical|warning\"']\n"
        "    equal: [service]\n"
    )
    (tmp_path / "oncall.yaml").write_text("rules: [rules/*.yaml]\nallow_actions: true\n")
    env = {"ONCALL_NOW": "2026-03-01T12:00:00Z"}
    assert oncall("--workspace", str(tmp_path), "rules", "eval", env=env).returncode == 0
    silenced = oncall(
        "--workspace", str(tmp_path), "alerts", "silence", "alertname=Errors", "--comment", "known", env=env
    )
    assert silenced.returncode == 0, silenced.stderr
    silence_id = silenced.stdout.split()[1]
    listed = json.loads(oncall("--workspace", str(tmp_path), "alerts", "--format", "json", env=env).stdout)
    by_name = {a["name"]: a for a in listed}
    # two critical alerts of one service do not inhibit each other: Down still pages
    assert by_name["Down"]["state"] == "firing" and by_name["Down"]["inhibited"] == []
    assert by_name["Errors"]["state"] == "suppressed"
    assert by_name["Errors"]["status"] == {
        "state": "suppressed",
        "silencedBy": [silence_id],
        "inhibitedBy": [],
    }
    assert by_name["Slow"]["state"] == "suppressed"
    assert set(by_name["Slow"]["inhibited"]) == {
        by_name["Down"]["fingerprint"],
        by_name["Errors"]["fingerprint"],
    }
    suppressed = json.loads(
        oncall(
            "--workspace", str(tmp_path), "alerts", "--state", "suppressed", "--format", "json", env=env
        ).stdout
    )
    assert sorted(a["name"] for a in suppressed) == ["Errors", "Slow"]
    firing = json.loads(
        oncall(
            "--workspace", str(tmp_path), "alerts", "--state", "firing", "--format", "json", env=env
        ).stdout
    )
    assert [a["name"] for a in firing] == ["Down"]


def test_an_inhibit_rule_with_a_regex_alertmanager_refuses_is_a_file_line_problem(tmp_path):
    from console.rules.loading import load_rule_file

    path = tmp_path / "r.yaml"
    path.write_text(
        "groups: []\ninhibit_rules:\n"
        "  - source_matchers: ['severity=\"page\"']\n"
        "    target_matchers: ['service=~\"api(?!-canary)\"']\n"
    )
    loaded = load_rule_file(path, check_sql=False)
    (problem,) = loaded.problems
    assert loaded.inhibit_rules == []
    assert "not RE2 syntax" in str(problem) and f"{path}:3" in str(problem)
