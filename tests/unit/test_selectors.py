"""Series selectors: parsing, and the SQL they become over the store's series table."""

import duckdb
import pytest

from console.store.selectors import SelectorError, parse_selector, parse_sum_by, series_sql

SERIES = [
    (1, "http_requests_total", '{"code":"500","job":"api"}'),
    (2, "http_requests_total", '{"code":"200","job":"api"}'),
    (3, "http_requests_total", '{"code":"503","job":"batch"}'),
    (4, "http_requests_total", '{"code":"503","env":"prod","job":"api"}'),
    (5, "other_total", '{"code":"500","job":"api"}'),
]


@pytest.fixture()
def con():
    con = duckdb.connect()
    con.execute("CREATE TABLE series (id INT, name VARCHAR, labels VARCHAR)")
    con.executemany("INSERT INTO series VALUES (?, ?, ?)", SERIES)
    return con


def ids(con, text, by=()):
    return sorted(con.sql(series_sql(parse_selector(text), by)).fetchall())


def test_each_matcher_kind_selects_like_prometheus(con):
    assert [i for i, _ in ids(con, 'http_requests_total{code=~"5.."}')] == [1, 3, 4]
    assert [i for i, _ in ids(con, 'http_requests_total{code!~"5.."}')] == [2]
    assert [i for i, _ in ids(con, 'http_requests_total{job!="api"}')] == [3]
    assert [i for i, _ in ids(con, 'http_requests_total{job="api", code="500"}')] == [1]
    # A regex is anchored at both ends, as in Prometheus.
    assert [i for i, _ in ids(con, 'http_requests_total{code=~"5"}')] == []
    # A missing label equals the empty string.
    assert [i for i, _ in ids(con, 'http_requests_total{env=""}')] == [1, 2, 3]
    assert [i for i, _ in ids(con, '{__name__="other_total"}')] == [5]


def test_sum_by_groups_series_by_the_named_labels(con):
    groups = dict(ids(con, 'http_requests_total{code=~"5.."}', by=("job",)))
    assert groups == {1: '{"job":"api"}', 3: '{"job":"batch"}', 4: '{"job":"api"}'}
    selector, by = parse_sum_by('sum by (job, code) (http_requests_total{job="api"})')
    assert by == ("job", "code") and selector.name == "http_requests_total"
    assert parse_sum_by('sum(x{a="b"}) by (a)')[1] == ("a",)


def test_escapes_and_quotes_in_values():
    selector = parse_selector(r'm{path="/a\"b", msg=`raw\n`}')
    assert [m.value for m in selector.matchers] == ['/a"b', "raw\\n"]
    assert parse_selector(str(selector)) == selector


@pytest.mark.parametrize(
    "text, fragment",
    [
        ('m{a="x"', "missing }"),
        ('m{a~"x"}', "expected =, !=, =~ or !~"),
        ("m{a=x}", "quoted value"),
        ('m{a=~"("}', "bad regular expression"),
        ('{a=~".*"}', "needs a metric name"),
        ('m{a="x"} extra', "unexpected"),
    ],
)
def test_bad_selectors_say_what_is_wrong(text, fragment):
    with pytest.raises(SelectorError, match=fragment):
        parse_selector(text)


def test_quotes_in_values_cannot_escape_the_sql(con):
    assert ids(con, "http_requests_total{job=\"x' OR '1'='1\"}") == []


@pytest.mark.parametrize(
    "text",
    [
        'http_requests_total{code=~"5.."}',
        'http_requests_total{code!~"5..", job="api"}',
        'http_requests_total{env=""}',
        '{__name__="other_total"}',
        '{code="500"}',
        'http_requests_total{job!="api"}',
    ],
)
def test_python_matching_agrees_with_the_sql(con, text):
    import json

    from console.store.selectors import matches

    selector = parse_selector(text)
    in_python = [i for i, name, labels in SERIES if matches(selector, name, json.loads(labels))]
    assert in_python == [i for i, _ in ids(con, text)]
