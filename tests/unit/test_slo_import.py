"""`oncall slo import`: Sloth and OpenSLO specs into oncall SLO files, reporting what is dropped."""

import pytest

from console.cli.main import main
from console.slo.conditions import slo_alert_conditions
from console.slo.model import load_slo_file

SLOTH = """\
version: "prometheus/v1"
service: "myservice"
labels: {owner: myteam}
slos:
  - name: "requests-availability"
    objective: 99.9
    description: "Common SLO based on availability for HTTP request responses."
    sli:
      events:
        error_query: sum(rate(http_request_duration_seconds_count{job="myservice",code=~"(5..|429)"}[{{.window}}]))
        total_query: sum(rate(http_request_duration_seconds_count{job="myservice"}[{{.window}}]))
    alerting:
      name: MyServiceHighErrorRate
      labels: {category: availability}
      annotations: {summary: "High error rate on 'myservice' requests responses"}
      page_alert:
        labels: {severity: pageteam, routing_key: myteam}
      ticket_alert:
        disable: true
  - name: "raw-ratio"
    objective: 99
    sli:
      raw:
        error_ratio_query: sum(rate(x_errors[{{.window}}])) / sum(rate(x_total[{{.window}}]))
  - name: "raw-average"
    objective: 99
    sli:
      raw:
        error_ratio_query: 1 - avg_over_time(x_ok[{{.window}}])
"""

SLOTH_CRD = """\
apiVersion: sloth.slok.dev/v1
kind: PrometheusServiceLevel
metadata: {name: svc}
spec:
  service: "svc"
  slos:
    - name: "availability"
      objective: 99.5
      sli:
        events:
          errorQuery: sum by (model) (rate(req_total{code=~"5.."}[{{.window}}]))
          totalQuery: sum by (model) (rate(req_total[{{.window}}]))
      alerting:
        pageAlert: {disable: true}
"""

OPENSLO = """\
apiVersion: openslo/v1
kind: SLI
metadata: {name: good-ratio}
spec:
  ratioMetric:
    counter: true
    good:
      metricSource: {type: Prometheus, spec: {query: 'sum(http_requests_total{status!~"5.."})'}}
    total:
      metricSource: {type: Prometheus, spec: {query: 'http_requests_total'}}
---
apiVersion: openslo/v1
kind: SLO
metadata: {name: web-availability, labels: {team: [a, b]}}
spec:
  service: web
  indicatorRef: good-ratio
  timeWindow: [{duration: 28d, isRolling: true}]
  budgetingMethod: Timeslices
  objectives:
    - {displayName: good, target: 0.995}
    - {displayName: stretch, target: 0.999}
---
apiVersion: openslo/v1
kind: SLO
metadata: {name: web-latency}
spec:
  service: web
  indicator:
    metadata: {name: lat}
    spec:
      thresholdMetric:
        metricSource: {type: Prometheus, spec: {query: 'histogram_quantile(0.9, x)'}}
  objectives: [{op: lte, value: 0.5, target: 0.9}]
---
apiVersion: openslo/v1
kind: AlertPolicy
metadata: {name: p}
"""


def convert(tmp_path, capsys, text, name="in.yaml"):
    source, out = tmp_path / name, tmp_path / "out.yaml"
    source.write_text(text)
    assert main(["slo", "import", str(source), "-o", str(out)]) == 0
    return load_slo_file(out), capsys.readouterr().err


def test_sloth_events_convert_and_raw_ratio_is_reported(tmp_path, capsys):
    (slo, raw), err = convert(tmp_path, capsys, SLOTH)
    assert raw.sli.ratio.bad == "x_errors" and raw.sli.ratio.total == "x_total"
    assert slo.name == "myservice-requests-availability" and slo.objective == 99.9
    assert slo.sli.ratio.bad == 'http_request_duration_seconds_count{job="myservice", code=~"(5..|429)"}'
    assert slo.labels == {"owner": "myteam"}
    conditions = slo_alert_conditions(slo)
    assert [c.severity for c in conditions] == ["page", "page"]
    assert conditions[0].labels["routing_key"] == "myteam"
    assert conditions[0].labels["category"] == "availability"
    assert "raw-average" in err and "raw error ratio 1 - avg_over_time" in err and "SLO skipped" in err
    assert slo.alerting.name == "MyServiceHighErrorRate" and "alerting.name" not in err


def test_sloth_crd_keeps_the_grouping(tmp_path, capsys):
    (slo,), err = convert(tmp_path, capsys, SLOTH_CRD)
    assert slo.by == ["model"] and slo.sli.ratio.total == "req_total"
    assert [c.severity for c in slo_alert_conditions(slo)] == ["ticket", "ticket"]
    assert "not carried over:" not in err and "0 part(s) not carried over" in err


def test_openslo_ratio_converts_and_every_dropped_part_is_named(tmp_path, capsys):
    (slo, stretch), err = convert(tmp_path, capsys, OPENSLO)
    assert slo.name == "web-availability-0" and slo.objective == pytest.approx(99.5)
    assert stretch.name == "web-availability-1" and stretch.objective == pytest.approx(99.9)
    assert slo.window.days == 28 and slo.sli.ratio.good == 'http_requests_total{status!~"5.."}'
    assert slo.labels == {"team": "a,b"}
    for dropped in (
        "budgetingMethod Timeslices",
        "web-latency",
        "histogram_quantile() compared per time slice",
        "AlertPolicy",
    ):
        assert dropped in err


def test_a_file_with_nothing_convertible_is_an_error(tmp_path, capsys):
    source = tmp_path / "x.yaml"
    source.write_text("kind: Deployment\n")
    with pytest.raises(SystemExit) as caught:
        main(["slo", "import", str(source)])
    assert caught.value.code == 2
    assert "no SLO could be converted" in capsys.readouterr().err
