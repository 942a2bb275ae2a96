"""`oncall slo generate` as a user runs it: Sloth's series and groups, the console's alerts.

`tests/integration/slo/test_generate_vs_prometheus.py` checks the rules with promtool and runs
them in a real Prometheus; these tests pin the shapes a Sloth dashboard and Alertmanager see.
"""

import os
import re
import stat
from pathlib import Path

import pytest
import yaml

from console.cli.main import main
from console.rules.families import SLO_ALERT
from console.slo.conditions import slo_alert_conditions
from console.slo.generate import ALERT_NAME, GenerateError, generate_rules, sli_expr
from console.slo.model import load_slo_file

SLOS = """\
slos:
  - name: availability
    service: fraud
    labels: {team: ml}
    objective: 99.9
    sli:
      ratio:
        bad: 'http_requests_total{job="scorer", code=~"5.."}'
        total: 'http_requests_total{job="scorer"}'
        by: [model]
    alerting:
      ticket: false
      page: {labels: {route: pager}}
      annotations: {runbook: "https://wiki/{{ fraud }}"}
  - name: latency
    objective: 99
    window: 7d
    min_events: 100
    sli:
      latency:
        buckets: 'request_duration_seconds_bucket{job="scorer"}'
        threshold: 1
"""


@pytest.fixture()
def workspace(tmp_path):
    (tmp_path / "oncall.yaml").write_text("store: s.duckdb\nslos: [slos.yaml]\n")
    (tmp_path / "slos.yaml").write_text(SLOS)
    return tmp_path


def _slos(text=SLOS):
    return load_slo_file("slos.yaml", text)


def _groups(text):
    return {g["name"]: g for g in yaml.safe_load(text)["groups"]}


def test_groups_series_and_labels_are_sloth_s(workspace, capsys):
    assert main(["-w", str(workspace), "slo", "generate", "--all"]) == 0
    groups = _groups(capsys.readouterr().out)
    assert list(groups) == [
        "sloth-slo-sli-recordings-fraud-availability",
        "sloth-slo-meta-recordings-fraud-availability",
        "sloth-slo-alerts-fraud-availability",
        "sloth-slo-sli-recordings-latency",
        "sloth-slo-meta-recordings-latency",
        "sloth-slo-alerts-latency",
    ]
    sli = groups["sloth-slo-sli-recordings-fraud-availability"]["rules"]
    assert [r["record"] for r in sli] == [
        f"slo:sli_error:ratio_rate{w}" for w in ("5m", "30m", "1h", "2h", "6h", "1d", "3d", "30d")
    ]
    assert sli[0]["labels"] == {
        "sloth_id": "fraud-availability",
        "sloth_service": "fraud",
        "sloth_slo": "availability",
        "team": "ml",
        "sloth_window": "5m",
    }
    # One ratio per `by` group, as the console computes it; the 30d one is Sloth's mean of the 5m.
    assert 'sum by (model) (rate(http_requests_total{job="scorer", code=~"5.."}[5m]))' in sli[0]["expr"]
    assert sli[-1]["expr"].startswith(
        'sum_over_time(slo:sli_error:ratio_rate5m{sloth_id="fraud-availability"'
    )
    meta = {r["record"]: r for r in groups["sloth-slo-meta-recordings-fraud-availability"]["rules"]}
    assert meta["slo:objective:ratio"]["expr"] == "vector(0.9990000000000001)"
    assert meta["slo:time_period:days"]["expr"] == "vector(30)"
    assert meta["sloth_slo_info"]["labels"]["sloth_objective"] == "99.9"
    assert set(meta) >= {
        "slo:error_budget:ratio",
        "slo:current_burn_rate:ratio",
        "slo:period_burn_rate:ratio",
        "slo:period_error_budget_remaining:ratio",
    }
    # A 7d SLO keeps its period in days.
    latency_meta = {r["record"]: r for r in groups["sloth-slo-meta-recordings-latency"]["rules"]}
    assert latency_meta["slo:time_period:days"]["expr"] == "vector(7)"


def test_alerts_are_the_console_s_conditions_with_their_factors_and_labels(workspace, capsys):
    assert main(["-w", str(workspace), "slo", "generate", "availability"]) == 0
    groups = _groups(capsys.readouterr().out)
    assert len(groups) == 3  # only the SLO named
    alerts = groups["sloth-slo-alerts-fraud-availability"]["rules"]
    (slo, _) = load_slo_file(workspace / "slos.yaml")
    conditions = slo_alert_conditions(slo)
    assert [c.severity for c in conditions] == ["page", "page"]  # ticket: false
    assert [a["labels"] for a in alerts] == [{**c.labels, "sloth_severity": c.severity} for c in conditions]
    assert {a["alert"] for a in alerts} == {ALERT_NAME} == {SLO_ALERT}
    assert alerts[0]["labels"]["route"] == "pager" and alerts[0]["labels"]["window"] == "1h/5m"
    assert alerts[0]["expr"].splitlines() == [
        'max(slo:sli_error:ratio_rate1h{sloth_id="fraud-availability", sloth_service="fraud", '
        'sloth_slo="availability"} > (14.4 * 0.0009999999999998899)) without (sloth_window)',
        "and",
        'max(slo:sli_error:ratio_rate5m{sloth_id="fraud-availability", sloth_service="fraud", '
        'sloth_slo="availability"} > (14.4 * 0.0009999999999998899)) without (sloth_window)',
    ]
    assert conditions[0].threshold == 14.4 * 0.0009999999999998899
    # Annotations are the console's text: a `{{` stays literal in Prometheus's templates.
    assert alerts[0]["annotations"]["runbook"] == '{{ "https://wiki/{{ fraud }}" }}'
    assert alerts[0]["annotations"]["summary"] == conditions[0].annotations["summary"]


def test_latency_good_ratio_and_min_events():
    _, latency = _slos()
    expr = sli_expr(latency, slo_alert_conditions(latency)[0].long_window)
    # Go writes le="1", Python's client le="1.0": the console matches both, so does the rule.
    assert 'request_duration_seconds_bucket{job="scorer", le=~"1|1\\\\.0"}[1h]' in expr
    assert expr.startswith("(1 - (sum(rate(")
    assert '{job="scorer", le="+Inf"}[1h]' in expr
    # Fewer than min_events requests in the window: no ratio, so no condition holds.
    assert expr.endswith(
        'and on()\n(sum(increase(request_duration_seconds_bucket{job="scorer", le="+Inf"}[1h])) >= 100.0)'
    )
    # The 7d SLO's factors are its own (scaled to its window), not the 30d ones.
    factors = [c.factor for c in slo_alert_conditions(latency)]
    assert f"({factors[0]!r} * " in generate_rules([latency])


def test_a_numerator_without_series_counts_zero_errors():
    availability, _ = _slos()
    expr = sli_expr(availability, slo_alert_conditions(availability)[0].short_window)
    numerator, total = expr.split("\n/\n")
    assert numerator.startswith("(sum by (model) (rate(") and f" or 0 * {total})" in numerator


def test_out_writes_a_private_file_and_interval_sets_every_group(workspace, capsys):
    out = workspace / "rules" / "slo.rules.yml"
    assert (
        main(["-w", str(workspace), "slo", "generate", "--all", "--out", str(out), "--interval", "30s"]) == 0
    )
    captured = capsys.readouterr()
    assert captured.out == "" and "wrote" in captured.err
    assert stat.S_IMODE(os.stat(out).st_mode) == 0o600
    text = out.read_text()
    assert text.startswith("# Generated by `oncall slo generate`")
    assert "*id" not in text and "&id" not in text  # no YAML aliases
    assert {g["interval"] for g in yaml.safe_load(text)["groups"]} == {"30s"}


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        ([], "name one SLO or pass --all"),
        (["nope"], "no SLO named 'nope' (SLOs: availability, latency)"),
        (["--all", "--interval", "soon"], "--interval: not a duration"),
    ],
)
def test_usage_errors_exit_2_with_one_line(workspace, capsys, argv, message):
    with pytest.raises(SystemExit) as caught:
        main(["-w", str(workspace), "slo", "generate", *argv])
    assert caught.value.code == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err


def test_a_broken_slo_file_writes_no_rules(workspace, capsys):
    (workspace / "slos.yaml").write_text(SLOS.replace("objective: 99.9", "objective: 120"))
    with pytest.raises(SystemExit) as caught:
        main(["-w", str(workspace), "slo", "generate", "--all"])
    assert caught.value.code == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert "slos.yaml:5" in captured.err and "no rules written" in captured.err


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ("labels: {team: ml}", "labels: {team-name: ml}"),
        ("labels: {team: ml}", "labels: {sloth_id: x}"),
        ("labels: {team: ml}", "labels: {model: x}"),
    ],
)
def test_labels_prometheus_cannot_carry_are_named(change, message):
    availability, _ = _slos(SLOS.replace(*(change, message)))
    with pytest.raises(GenerateError, match=r"SLO availability: (label|`by` label)"):
        generate_rules([availability])


def test_two_slos_with_one_sloth_id_are_refused():
    # `fraud-x` of service `fraud` is Sloth's SLO `x` (as `oncall slo import` names it), so
    # an SLO `x` of the same service would write the same series.
    text = """\
slos:
  - {name: fraud-x, service: fraud, objective: 99, sli: {ratio: {bad: a_total, total: b_total}}}
  - {name: x, service: fraud, objective: 99, sli: {ratio: {bad: a_total, total: b_total}}}
"""
    first, second = load_slo_file("slos.yaml", text)
    assert "sloth_slo: x\n" in generate_rules([first]) and "sloth_slo: x\n" in generate_rules([second])
    with pytest.raises(GenerateError, match="SLOs fraud-x and x would both be Sloth's 'fraud-x'"):
        generate_rules([first, second])


def test_a_7d_slo_alerts_on_sloth_s_7d_windows(workspace, capsys):
    (workspace / "slos.yaml").write_text(
        SLOS.replace("window: 7d", "window: 7d\n    alert_windows: sloth-7d")
    )
    assert main(["-w", str(workspace), "slo", "generate", "latency"]) == 0
    alerts = _groups(capsys.readouterr().out)["sloth-slo-alerts-latency"]["rules"]
    legs = [re.findall(r"ratio_rate(\w+)\{[^}]*\} > \(([\d.]+) \*", a["expr"]) for a in alerts]
    assert [[w for w, _ in pair] for pair in legs] == [
        ["1h", "5m"],
        ["6h", "30m"],
        ["1d", "2h"],
        ["3d", "6h"],
    ]
    assert [[float(f) for _, f in pair] for pair in legs] == [
        [pytest.approx(f)] * 2 for f in (13.44, 3.5, 1.4, 0.98)
    ]


def test_an_slo_on_the_workspace_s_own_alert_windows(workspace, capsys):
    spec = (Path(__file__).parents[2] / "console/slo/shipped_windows/google-30d.yaml").read_text()
    (workspace / "windows.yaml").write_text(spec.replace("longWindow: 1h", "longWindow: 2h"))
    (workspace / "oncall.yaml").write_text(
        "store: s.duckdb\nslos: [slos.yaml]\nalert_windows: [windows.yaml]\n"
    )
    text = SLOS.replace("    objective: 99.9\n", "    objective: 99.9\n    alert_windows: windows\n", 1)
    (workspace / "slos.yaml").write_text(text)
    assert main(["-w", str(workspace), "slo", "generate", "availability"]) == 0
    groups = _groups(capsys.readouterr().out)
    (quick, _) = groups["sloth-slo-alerts-fraud-availability"]["rules"]
    assert quick["labels"]["window"] == "2h/5m"
    assert "ratio_rate2h" in quick["expr"] and "(7.2 * " in quick["expr"]
    # A broken windows file writes nothing, and says where.
    (workspace / "windows.yaml").write_text("kind: AlertWindows\nspec: {}\n")
    with pytest.raises(SystemExit) as caught:
        main(["-w", str(workspace), "slo", "generate", "--all"])
    captured = capsys.readouterr()
    assert caught.value.code == 2 and captured.out == ""
    assert "windows.yaml:" in captured.err and "no rules written" in captured.err
