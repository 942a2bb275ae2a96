"""`oncall rules test` against real `promtool test rules` on twin files: the same test file,
its rules once in PromQL (for promtool) and once in the store's threshold form (for oncall),
with the same meaning on these samples.  Verdicts, exit codes and the printed output —
SUCCESS, FAILED blocks, sorted label sets, quoting, times — must be identical."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from tests.conftest import run_oncall
from tests.servers import require_binary

pytestmark = pytest.mark.integration

PROMQL_RULES = """
groups:
  - name: twin
    rules:
      - alert: Down
        expr: up == 0
        for: 3m
        keep_firing_for: 2m
        labels:
          severity: page
        annotations:
          summary: 'instance is down: "quoted", tab\tand é'
      - alert: Busy
        expr: sum by (model) (inflight) > 10
        annotations:
          runbook: https://runbooks.example/busy
"""

THRESHOLD_RULES = """
groups:
  - name: twin
    rules:
      - alert: Down
        expr: {series: up, fn: last, over: 5m, by: [job, instance], op: "==", value: 0}
        for: 3m
        keep_firing_for: 2m
        labels:
          severity: page
        annotations:
          summary: 'instance is down: "quoted", tab\tand é'
      - alert: Busy
        expr: {series: inflight, fn: last, over: 5m, by: [model], op: ">", value: 10}
        annotations:
          runbook: https://runbooks.example/busy
"""

SERIES = """
    input_series:
      - series: 'up{job="scorer", instance="a:9100"}'
        values: '0x10 1x10'
      - series: 'up{job="scorer", instance="b:9100"}'
        values: '1 1 0x8 _x2 0 1'
      - series: 'up{job="scorer", instance="c:9100"}'
        values: '1+0x20'
      - series: 'inflight{model="fraud", pod="p1"}'
        values: '4 8 12 _ 12'
      - series: 'inflight{model="fraud", pod="p2"}'
        values: '4 4 4 4 4'
      - series: 'inflight{model="churn", pod="p3"}'
        values: '20 20 2'
"""

PASSING = """
rule_files: [RULES]
tests:
  - name: down and back
    interval: 1m
SERIES
    alert_rule_test:
      - {eval_time: 2m, alertname: Down, exp_alerts: []}
      - eval_time: 3m
        alertname: Down
        exp_alerts:
          - exp_labels: {severity: page, job: scorer, instance: "a:9100"}
            exp_annotations: {summary: "instance is down: \\"quoted\\", tab\\tand é"}
      - eval_time: 12m
        alertname: Down
        exp_alerts:
          - exp_labels: {severity: page, job: scorer, instance: "a:9100"}
            exp_annotations: {summary: "instance is down: \\"quoted\\", tab\\tand é"}
          - exp_labels: {severity: page, job: scorer, instance: "b:9100"}
            exp_annotations: {summary: "instance is down: \\"quoted\\", tab\\tand é"}
      - eval_time: 1m
        alertname: Busy
        exp_alerts:
          - exp_labels: {model: churn}
            exp_annotations: {runbook: https://runbooks.example/busy}
          - exp_labels: {model: fraud}
            exp_annotations: {runbook: https://runbooks.example/busy}
"""

FAILING = """
rule_files: [RULES]
evaluation_interval: 30s
tests:
  - name: wrong on purpose
    interval: 1m
SERIES
    alert_rule_test:
      - eval_time: 2m30s
        alertname: Down
        exp_alerts:
          - exp_labels: {severity: page, job: scorer, instance: "a:9100"}
      - eval_time: 14m
        alertname: Down
        exp_alerts: []
      - eval_time: 16m
        alertname: Down
        exp_alerts:
          - exp_labels: {severity: page, job: scorer, instance: "a:9100"}
      - eval_time: 1h
        alertname: Busy
        exp_alerts:
          - exp_labels: {model: fraud}
  - interval: 1m
SERIES
    alert_rule_test:
      - eval_time: 4m
        alertname: Busy
        exp_alerts: []
      - eval_time: 0s
        alertname: Nothing
        exp_alerts:
          - exp_labels: {a: "1"}
    promql_expr_test:
      - expr: EXPR
        eval_time: 1m
        exp_samples:
          - labels: '{model="fraud"}'
            value: 1
          - labels: '{model="churn"}'
            value: 20
      - expr: EXPR
        eval_time: 2m
        exp_samples:
          - labels: '{model="fraud"}'
            value: 16
"""

# The same question in each language: the latest inflight per model, summed.
PROMQL_EXPR = "sum by (model) (inflight)"
SQL_EXPR = "SELECT * FROM {{ last('inflight', '5m', by=['model']) }}"


def _write(folder: Path, name: str, test: str, rules: str, expr: str) -> Path:
    (folder / f"{name}_rules.yml").write_text(rules)
    path = folder / f"{name}.yml"
    text = test.replace("SERIES\n", SERIES.lstrip("\n")).replace("RULES", f"{name}_rules.yml")
    path.write_text(text.replace("EXPR", json.dumps(expr)))
    return path


def _twins(
    tmp_path: Path, test: str
) -> tuple[subprocess.CompletedProcess[str], subprocess.CompletedProcess[str]]:
    promtool = require_binary("promtool")
    (tmp_path / "prom").mkdir()
    (tmp_path / "oncall").mkdir()
    prom_file = _write(tmp_path / "prom", "twin", test, PROMQL_RULES, PROMQL_EXPR)
    oncall_file = _write(tmp_path / "oncall", "twin", test, THRESHOLD_RULES, SQL_EXPR)
    theirs = subprocess.run(
        [promtool, "test", "rules", prom_file.name],
        cwd=prom_file.parent,
        capture_output=True,
        text=True,
        timeout=60,
    )
    ours = run_oncall("rules", "test", oncall_file.name, cwd=oncall_file.parent)
    return theirs, ours


def test_a_passing_file_passes_under_both(tmp_path: Path) -> None:
    theirs, ours = _twins(tmp_path, PASSING)
    assert theirs.returncode == 0, theirs.stdout + theirs.stderr
    assert (ours.returncode, ours.stdout, ours.stderr) == (0, theirs.stdout, theirs.stderr)
    assert "SUCCESS" in ours.stdout


@pytest.mark.parametrize("stream", ["stdout", "stderr"])
def test_a_failing_file_prints_what_promtool_prints(tmp_path: Path, stream: str) -> None:
    theirs, ours = _twins(tmp_path, FAILING)
    assert theirs.returncode == 1
    assert ours.returncode == 1
    # the expressions differ (PromQL there, SQL here); what is printed around them may not
    assert getattr(ours, stream).replace(json.dumps(SQL_EXPR), "EXPR") == getattr(theirs, stream).replace(
        json.dumps(PROMQL_EXPR), "EXPR"
    )
    if stream == "stderr":  # what the comparison is about is there at all
        assert "  FAILED:\n    name: wrong on purpose,\n    alertname: Down, time: 2m30s, \n" in ours.stderr
        assert 'Labels:{alertname="Down", instance="a:9100", job="scorer", severity="page"}' in ours.stderr
        assert 'got: {model="churn"} 2E+01, {model="fraud"} 1.2E+01\n' in ours.stderr
