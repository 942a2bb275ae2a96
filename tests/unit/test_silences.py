"""Silences (matchers incl. regex, start, end, expire early) and inhibition with `equal`."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest

from console.alerting import AlertEngine, load_alerts
from console.rules import Rule
from console.silences import (InhibitRule, Matcher, create_silence, expire_silence,
                              inhibited_by, load_silences, parse_matcher, silenced_by)
from console.store import Store

NOW = datetime(2026, 3, 1, 12, 0)
H = timedelta(hours=1)
LABELS = {"alertname": "HighErrors", "service": "checkout", "severity": "page", "env": "prod"}

MATCHERS = [
    ('service="checkout"', True),
    ("service=checkout", True),
    ('service!="checkout"', False),
    ('service=~"check.*"', True),
    ('service=~"check"', False),          # regexes match the whole value
    ('service!~"pay.*"', True),
    ('team=""', True),                    # a missing label is the empty string
    ('team=~".+"', False),
]


@pytest.mark.parametrize("text,expected", MATCHERS, ids=[m[0] for m in MATCHERS])
def test_matchers(text, expected):
    assert parse_matcher(text).matches(LABELS) is expected


@pytest.mark.parametrize("text", ["service", "service==x", 'service=~"("', "9x=y"])
def test_bad_matchers_say_why(text):
    with pytest.raises(ValueError, match="matcher"):
        parse_matcher(text)


def test_silence_window_and_early_expiry(tmp_path):
    store = Store.open(tmp_path / "s.duckdb")
    silence = create_silence(store, [parse_matcher('service=~"check.*"'), parse_matcher("env=prod")],
                             NOW + H, NOW + 3 * H, created_by="ana", comment="maintenance",
                             now=NOW)
    (loaded,) = load_silences(store, NOW)
    assert loaded.matchers == silence.matchers and loaded.comment == "maintenance"
    assert silenced_by(LABELS, [loaded], NOW) == []                    # not started
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


def test_engine_marks_silenced_and_slo_page_inhibits_ticket(tmp_path):
    store = Store.open(tmp_path / "s.duckdb")
    rules = [Rule("Burn", "SELECT 'api' AS slo, 14.4 AS value", group="page",
                  labels={"severity": "page"}, source="slo"),
             Rule("Burn", "SELECT 'api' AS slo, 3.0 AS value", group="ticket",
                  labels={"severity": "ticket"}, source="slo"),
             Rule("Other", "SELECT 'web' AS slo, 3.0 AS value", labels={"severity": "ticket"})]
    create_silence(store, [Matcher("alertname", "Other")], NOW, NOW + H, created_by="ana",
                   comment="known", now=NOW)
    AlertEngine(store, rules).run(NOW)
    alerts = {(a.rule, a.labels["severity"]): a for a in load_alerts(store)}
    page, ticket = alerts[("page/Burn", "page")], alerts[("ticket/Burn", "ticket")]
    other = alerts[("default/Other", "ticket")]
    assert page.inhibited_by == [] and page.silenced_by == []
    assert ticket.inhibited_by == [page.fingerprint]
    assert other.inhibited_by == [] and len(other.silenced_by) == 1
    store.close()
