"""Which rules share a shape: the same expression but for matchers, windows and compared numbers."""

from __future__ import annotations

import pytest

from console.rules.promql import parse, shapes


def _key(text: str) -> str:
    return shapes.shape(parse(text).ast)[0]


def test_matchers_windows_and_thresholds_are_data() -> None:
    a = 'sum by (model) (rate(requests_total{code=~"5.."}[5m])) / sum by (model) (rate(requests_total[5m])) > 0.01'
    b = 'sum by (model) (rate(errors_total{svc="x"}[1h])) / sum by (model) (rate(requests_total[30m])) > 0.5'
    assert _key(a) == _key(b)
    _, slots = shapes.shape(parse(b).ast)
    assert slots.ranges == [3_600_000, 1_800_000] and slots.numbers == [0.5]
    assert [s.name for s in slots.selectors] == ["errors_total", "requests_total"]


def test_which_over_time_aggregate_is_data() -> None:
    assert _key("avg_over_time(x[5m]) > 1") == _key('max_over_time(y{a="b"}[1h]) > 2')
    assert _key("avg_over_time(x[5m]) > 1") != _key("last_over_time(x[5m]) > 1")  # it keeps __name__
    _, slots = shapes.shape(parse("stddev_over_time(x[5m]) > 1").ast)
    assert slots.functions == ["stddev_over_time"]


@pytest.mark.parametrize(
    ("a", "b"),
    [
        ("sum by (model) (rate(x[5m])) > 1", "sum by (svc) (rate(x[5m])) > 1"),  # grouping labels
        ("rate(x[5m]) > 1", "increase(x[5m]) > 1"),  # function
        ("rate(x[5m]) > 1", "rate(x[5m]) < 1"),  # operator
        ("x > 1", "x > bool 1"),
        ("quantile_over_time(0.9, x[5m]) > 1", "quantile_over_time(0.5, x[5m]) > 1"),  # a parameter
        ("x > 1 and x < 2", "x > 1 and y < 2"),  # a value repeated in one and not the other
        ("x / on(a) y > 1", "x / on(b) y > 1"),
    ],
)
def test_what_changes_meaning_changes_the_shape(a: str, b: str) -> None:
    assert _key(a) != _key(b)


@pytest.mark.parametrize(
    "text",
    [
        "rate(x[5m] offset 1h) > 1",
        "x @ 1700000000 > 1",
        "max_over_time(rate(x[1m])[10m:1m]) > 1",
        "time() - x > 60",
        'absent(up{job="api"})',
        "predict_linear(x[1h], 3600) < 0",
    ],
)
def test_what_reads_the_evaluation_time_or_its_own_text_is_compiled_alone(text: str) -> None:
    with pytest.raises(shapes.Unshaped):
        shapes.shape(parse(text).ast)


def test_groups_need_two() -> None:
    exprs = ["x > 1", "y > 2", "rate(x[5m]) > 1", "absent(x)", "absent(y)"]
    grouped, _ = shapes.groups([parse(e) for e in exprs])
    assert grouped == [[0, 1]]
