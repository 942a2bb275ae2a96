"""Rule files: Prometheus's shape, file:line errors, and what `oncall rules check` says."""

from __future__ import annotations

import textwrap

import pytest

from console.rules.loading import load_rule_file
from console.rules.model import Threshold

GOOD = """\
groups:
  - name: api
    interval: 30s
    rules:
      - alert: HighErrorRate
        expr: {series: 'errors_total{code=~"5.."}', fn: rate, over: 5m, by: [service], op: '>', value: 0.5}
        for: 2m
        keep_firing_for: 5m
        labels: {severity: page}
        annotations:
          summary: "{{ $labels.service }} fails {{ $value | humanize }}/s"
      - alert: SlowP99
        expr: |
          SELECT service, value
          FROM {{ quantile('latency_seconds', '10m', 0.99, by=['service']) }}
          WHERE value > 0.5
inhibit_rules:
  - source_matchers: ['severity="page"']
    target_matchers: ['severity="ticket"']
    equal: [service]
"""

# (what is wrong, file text, expected (line, fragment) problems)
BAD = [
    ("broken YAML", "groups:\n  - name: a\n   rules: [\n", [(3, "bad YAML")]),
    (
        "duration",
        """\
groups:
  - name: a
    rules:
      - alert: A
        expr: SELECT 1 AS value
        for: 5 minutes
""",
        [(6, "not a duration")],
    ),
    (
        "unknown key and missing expr",
        """\
groups:
  - name: a
    rules:
      - alert: A
        exprr: SELECT 1 AS value
""",
        [(4, "missing required key"), (5, "unknown key")],
    ),
    (
        "recording rule with alerting keys",
        """\
groups:
  - name: a
    rules:
      - record: job:x
        expr: SELECT 1 AS value
        for: 5m
        annotations: {summary: x}
""",
        [(6, "recording rule has no `for`"), (7, "recording rule has no `annotations`")],
    ),
    (
        "recording rule named as no metric can be",
        """\
groups:
  - name: a
    rules:
      - record: job-x
        expr: SELECT 1 AS value
""",
        [(4, "should match pattern")],
    ),
    (
        "rule with neither alert nor record, rule with both",
        """\
groups:
  - name: a
    rules:
      - expr: SELECT 1 AS value
      - alert: A
        record: job:x
        expr: SELECT 1 AS value
""",
        [(4, "needs `alert: NAME` or `record: METRIC`"), (6, "not both")],
    ),
    (
        "SQL that does not run",
        """\
groups:
  - name: a
    rules:
      - alert: A
        expr: SELECT 1 AS value
      - alert: B
        expr: SELECT value FROM no_such_table
""",
        [(7, "no_such_table")],
    ),
    (
        "SQL without a value column",
        """\
groups:
  - name: a
    rules:
      - alert: A
        expr: SELECT 'x' AS service
""",
        [(5, "`value` column")],
    ),
    (
        "bad selector in a helper",
        """\
groups:
  - name: a
    rules:
      - alert: A
        expr: "SELECT * FROM {{ rate('x{a=}', '5m') }}"
""",
        [(5, "expected a quoted value")],
    ),
    (
        "bad template in an annotation",
        """\
groups:
  - name: a
    rules:
      - alert: A
        expr: SELECT 1 AS value
        annotations:
          summary: "{{ labels.x "
""",
        [(7, "bad template")],
    ),
    (
        "duplicate group",
        """\
groups:
  - name: a
    rules: []
  - name: a
    rules: []
""",
        [(4, "duplicate group name")],
    ),
    (
        "bad threshold op",
        """\
groups:
  - name: a
    rules:
      - alert: A
        expr: {series: x, fn: rate, over: 5m, op: '=>', value: 1}
""",
        [(5, "groups[0].rules[0].expr.op")],
    ),
    (
        "bad inhibit matcher",
        """\
groups: []
inhibit_rules:
  - source_matchers: ['severity page']
    target_matchers: []
""",
        [(3, "bad matcher")],
    ),
]


def test_good_file_loads(tmp_path):
    path = tmp_path / "rules.yaml"
    path.write_text(GOOD)
    loaded = load_rule_file(path)
    assert loaded.problems == []
    first, second = loaded.rules
    assert first.key == "api/HighErrorRate" and first.interval.total_seconds() == 30
    assert first.for_.total_seconds() == 120 and first.keep_firing_for.total_seconds() == 300
    assert isinstance(first.expr, Threshold) and first.expr.by == ["service"]
    assert first.line == 5 and second.line == 12
    assert [m.name for m in loaded.inhibit_rules[0].source] == ["severity"]


@pytest.mark.parametrize("name,text,expected", BAD, ids=[b[0] for b in BAD])
def test_malformed_file_gives_file_line_errors(tmp_path, name, text, expected):
    path = tmp_path / "rules.yaml"
    path.write_text(textwrap.dedent(text))
    problems = load_rule_file(path).problems
    found = [(p.line, str(p)) for p in problems]
    assert len(found) == len(expected), found
    for (line, fragment), (got_line, text_) in zip(expected, found):
        assert got_line == line, found
        assert text_.startswith(f"{path}:{line}: "), text_
        assert fragment in text_, text_


def test_rules_check_command(tmp_path, oncall):
    good, bad = tmp_path / "good.yaml", tmp_path / "bad.yaml"
    good.write_text(GOOD)
    bad.write_text(BAD[1][1])
    ok = oncall("rules", "check", str(good))
    assert ok.returncode == 0, ok.stderr
    assert f"SUCCESS: {good}: 2 rules found" in ok.stdout
    failed = oncall("rules", "check", str(good), str(bad))
    assert failed.returncode == 1
    assert f"{bad}:6: groups[0].rules[0].for: not a duration" in failed.stdout
    assert "Traceback" not in failed.stderr


def test_oncall_check_validates_rule_files(tmp_path, oncall):
    (tmp_path / "rules").mkdir()
    (tmp_path / "rules" / "bad.yaml").write_text(
        next(text for name, text, _ in BAD if name == "SQL that does not run")
    )
    (tmp_path / "oncall.yaml").write_text("rules: [rules/*.yaml]\n")
    result = oncall("--workspace", str(tmp_path), "check")
    assert result.returncode == 1
    assert "bad.yaml:7: expr: SQL error" in result.stdout
