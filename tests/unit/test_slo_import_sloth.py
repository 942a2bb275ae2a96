"""`oncall slo import` on Sloth's own example specs (tests/fixtures/sloth, copied from
github.com/slok/sloth) and on each query form Sloth users write; what cannot convert is named
per SLO with its reason, and the rest of the file still imports."""

from __future__ import annotations

import math
from pathlib import Path

import pytest

from console.cli.main import main
from console.rules.families import slo_burn_rules
from console.slo.conditions import slo_alert_conditions
from console.slo.importers import convert_documents
from console.slo.model import SLO, load_slo_file

FIXTURES = Path(__file__).parents[1] / "fixtures" / "sloth"


def imported(tmp_path, capsys, name):
    out = tmp_path / "out.yaml"
    assert main(["slo", "import", str(FIXTURES / name), "-o", str(out)]) == 0
    return {slo.name: slo for slo in load_slo_file(out)}, capsys.readouterr().err


def one(error, total, **extra):
    """The SLO (or the notes) one Sloth events SLI converts to."""
    doc = {
        "version": "prometheus/v1",
        "service": "s",
        "slos": [
            {
                "name": "x",
                "objective": 99,
                "sli": {"events": {"error_query": error, "total_query": total}},
                **extra,
            }
        ],
    }
    slos, notes = convert_documents([doc], "f.yaml")
    return (SLO.model_validate(slos[0]) if slos else None), notes


def test_getting_started_carries_the_alerting_block(tmp_path, capsys):
    slos, err = imported(tmp_path, capsys, "getting-started.yml")
    slo = slos["myservice-requests-availability"]
    assert slo.sli.ratio.bad == 'http_request_duration_seconds_count{job="myservice", code=~"(5..|429)"}'
    page, _, ticket, _ = slo_alert_conditions(slo)
    assert page.labels["routing_key"] == "myteam" and page.labels["category"] == "availability"
    assert ticket.labels["slack_channel"] == "#alerts-myteam"
    assert page.annotations["summary"] == "High error rate on 'myservice' requests responses"
    # Sloth names both alerts alerting.name; oncall's alerts carry it as their alertname.
    assert {rule.name for rule in slo_burn_rules([slo])} == {"MyServiceHighErrorRate"}
    # oncall's own severity label wins over Sloth's, and the import says so.
    assert page.labels["severity"] == "page"
    assert "page_alert label severity='pageteam' (oncall sets severity=page" in err


def test_the_crd_form_and_no_alerts(tmp_path, capsys):
    crd, _ = imported(tmp_path, capsys, "k8s-getting-started.yml")
    plain, _ = imported(tmp_path, capsys, "getting-started.yml")
    assert crd["myservice-requests-availability"] == plain["myservice-requests-availability"]
    quiet, err = imported(tmp_path, capsys, "no-alerts.yml")
    assert slo_alert_conditions(quiet["myapp-http-availability"]) == [] and "not carried over:" not in err


def test_kubernetes_apiserver_latency_is_count_minus_bucket(tmp_path, capsys):
    slos, _ = imported(tmp_path, capsys, "kubernetes-apiserver.yml")
    latency = slos["k8s-apiserver-requests-latency"].sli.ratio
    assert latency.good == 'apiserver_request_duration_seconds_bucket{le="0.4", verb!="WATCH"}'
    assert latency.total == 'apiserver_request_duration_seconds_count{verb!="WATCH"}'
    assert slos["k8s-apiserver-requests-availability"].labels["category"] == "availability"
    assert {r.name for r in slo_burn_rules(list(slos.values()))} == {
        "K8sApiserverAvailabilityAlert",
        "K8sApiserverLatencyAlert",
    }


def test_grouped_forms(tmp_path, capsys):
    slos, err = imported(tmp_path, capsys, "grouped.yml")
    assert slos["myservice-availability-by-suffix"].by == ["model"]
    assert slos["myservice-availability-by-prefix"].sli == slos["myservice-availability-by-suffix"].sli
    assert slos["myservice-availability-increase-by-two"].by == ["instance", "model"]
    assert slos["myservice-availability-without"].sli.ratio.without == ["code"]
    assert slos["myservice-latency-by-suffix"].sli.ratio.good.startswith(
        "http_request_duration_seconds_bucket"
    )
    assert slos["myservice-latency-without"].sli.ratio.without == ["code", "le"]
    buckets = slos["myservice-latency-buckets"].sli.latency
    assert (buckets.buckets, buckets.threshold, buckets.by) == (
        'http_request_duration_seconds_bucket{job="myservice"}',
        0.4,
        ["model"],
    )
    # The one SLO that cannot convert is named with its reason; the eight others imported.
    assert len(slos) == 8
    assert (
        "slos[8] (mixed-grouping): the queries group differently (error by (model), total by (instance)); SLO skipped"
        in err
    )


def test_openslo_v1alpha_as_sloth_reads_it(tmp_path, capsys):
    slos, err = imported(tmp_path, capsys, "openslo-kubernetes-apiserver.yml")
    assert sorted(slos) == [
        "requests-availability-openslo-0",
        "requests-latency-openslo-0",
        "requests-latency-openslo-1",
    ]
    strict = slos["requests-latency-openslo-1"]
    assert strict.objective == pytest.approx(99.9) and strict.window.days == 30
    assert strict.sli.ratio.good == 'apiserver_request_duration_seconds_bucket{le="5", verb!="WATCH"}'
    assert "not carried over:" not in err


@pytest.mark.parametrize(
    ("fixture", "reason"),
    [
        ("home-wifi.yml", "sum_over_time() in sum_over_time("),
        ("raw-home-wifi.yml", "sum_over_time() in sum_over_time("),
        ("plugin-getting-started.yml", "SLI plugin 'getting_started_availability'"),
    ],
)
def test_what_sloth_examples_cannot_convert_says_why(tmp_path, capsys, fixture, reason):
    with pytest.raises(SystemExit) as caught:
        main(["slo", "import", str(FIXTURES / fixture)])
    assert caught.value.code == 2
    assert reason in capsys.readouterr().err


def test_in_base_raw_ratio_converts_and_the_disabled_alerts_stay_off(tmp_path, capsys):
    slos, _ = imported(tmp_path, capsys, "in-base.yaml")
    raw = slos["svc01-slo02"]
    assert raw.sli.ratio.bad == 'http_request_duration_seconds_count{job="myservice", code=~"(5..|429)"}'
    assert slo_alert_conditions(raw) == []


@pytest.mark.parametrize(
    ("error", "total", "check"),
    [
        (
            "sum(rate(e[{{.window}}])) by (model)",
            "sum(rate(t[{{.window}}])) by (model)",
            lambda s: s.by == ["model"],
        ),
        (
            "sum by (a, b) (increase(e[{{.window}}]))",
            "sum(increase(t[{{.window}}])) by (b, a)",
            lambda s: s.by == ["a", "b"],
        ),
        (
            "sum without (code) (rate(e[{{ .window }}]))",
            "sum without (code) (rate(t[{{.window}}]))",
            lambda s: s.sli.ratio.without == ["code"],
        ),
        (
            "sum(rate(t[{{.window}}])) - sum(rate(g[{{.window}}]))",
            "sum(rate(t[{{.window}}]))",
            lambda s: (s.sli.ratio.good, s.sli.ratio.total) == ("g", "t"),
        ),
        (
            'sum(rate(h_count{a="1",b="2"}[5m])) by (m) - sum(rate(h_bucket{b="2",le="0.25",a="1"}[5m])) by (m)',
            'sum(rate(h_count{b="2",a="1"}[5m])) by (m)',
            lambda s: s.sli.ratio.good == 'h_bucket{b="2", le="0.25", a="1"}',
        ),
        (
            'sum(rate(h_bucket{le="+Inf"}[5m])) - sum(rate(h_bucket{le="0.5"}[5m]))',
            'sum(rate(h_bucket{le="+Inf"}[5m]))',
            lambda s: (s.sli.latency.buckets, s.sli.latency.threshold) == ("h_bucket", 0.5),
        ),
        (
            "sum(rate(e[{{.window}}])) OR on() vector(0)",
            "sum(rate(t[{{.window}}]))",
            lambda s: (s.sli.ratio.bad, s.sli.ratio.total) == ("e", "t"),
        ),
    ],
)
def test_query_forms_convert(error, total, check):
    slo, notes = one(error, total)
    assert slo is not None, notes
    assert check(slo) and notes == []


@pytest.mark.parametrize(
    ("error", "total", "reason"),
    [
        ("sum(rate(e[5m] offset 1h))", "sum(rate(t[5m]))", "offset or @"),
        ("sum(irate(e[5m]))", "sum(rate(t[5m]))", "irate() in"),
        ("max(rate(e[5m]))", "sum(rate(t[5m]))", "max(...) in"),
        ("sum(rate(a[5m])) - sum(rate(g[5m]))", "sum(rate(t[5m]))", "but a is not the total query's t"),
        (
            'sum without (code) (rate(h_count[5m])) - sum without (code) (rate(h_bucket{le="1"}[5m]))',
            "sum without (code) (rate(h_count[5m]))",
            "add le to the without list",
        ),
        ("sum(rate(e[{{.window}}])) by (model", "sum(rate(t[5m]))", "PromQL does not parse"),
        ('sum(rate(e{x="{{.service}}"}[5m]))', "sum(rate(t[5m]))", "template {{.service}}"),
        ("sum(rate(e[5m])) - on(m) sum(rate(t[5m]))", "sum(rate(e[5m]))", "vector matching or bool"),
    ],
)
def test_query_forms_that_do_not_convert_say_why(error, total, reason):
    slo, notes = one(error, total)
    assert slo is None
    assert len(notes) == 1 and reason in notes[0] and notes[0].startswith("f.yaml document 1 slos[0] (x): ")


def test_a_bare_query_is_read_as_its_sum_and_says_so():
    slo, notes = one("rate(e[5m])", "sum(rate(t[5m]))")
    assert slo.sli.ratio.bad == "e" and slo.by == []
    assert notes == [
        "f.yaml document 1 slos[0] (x): the error query has no sum(): read as sum(e), over all its series"
    ]


def test_openslo_v1_threshold_metric_over_buckets_is_a_latency_sli():
    doc = {
        "apiVersion": "openslo/v1",
        "kind": "SLO",
        "metadata": {"name": "lat"},
        "spec": {
            "service": "api",
            "indicator": {
                "metadata": {"name": "l"},
                "spec": {
                    "thresholdMetric": {
                        "metricSource": {
                            "type": "Prometheus",
                            "spec": {
                                "query": 'sum by (le, model) (rate(http_seconds_bucket{job="api"}[5m]))'
                            },
                        }
                    }
                },
            },
            "timeWindow": [{"duration": "28d", "isRolling": True}],
            "objectives": [{"op": "lte", "value": 0.25, "target": 0.99}],
        },
    }
    (slo,), notes = convert_documents([doc], "o.yaml")
    latency = SLO.model_validate(slo).sli.latency
    assert (latency.buckets, latency.threshold, latency.by) == (
        'http_seconds_bucket{job="api"}',
        0.25,
        ["model"],
    )
    assert notes == [] and math.isclose(slo["objective"], 99)


def test_raw_one_minus_good_over_total_converts():
    doc = {
        "version": "prometheus/v1",
        "service": "s",
        "slos": [
            {
                "name": "x",
                "objective": 99,
                "sli": {
                    "raw": {
                        "error_ratio_query": "1 - (sum(rate(g[{{.window}}])) / sum(rate(t[{{.window}}])))"
                    }
                },
            }
        ],
    }
    (slo,), notes = convert_documents([doc], "f.yaml")
    assert slo["sli"] == {"ratio": {"good": "g", "total": "t"}} and notes == []


def test_a_malformed_slo_is_named_and_the_others_still_import():
    good = {"name": "ok", "objective": 99, "sli": {"events": {"error_query": "e", "total_query": "t"}}}
    doc = {
        "version": "prometheus/v1",
        "service": "s",
        "slos": [{"name": "bad", "objective": 99, "sli": {"events": ["e", "t"]}}, good],
    }
    slos, notes = convert_documents([doc, {"apiVersion": "openslo/v1", "kind": "SLO", "spec": [1]}], "f.yaml")
    assert [s["name"] for s in slos] == ["s-ok"]
    assert "slos[0] (bad): sli.events is a list, not a mapping; SLO skipped" in notes[0]
    assert notes[-1] == "f.yaml document 2 (slo): spec is a list, not a mapping; SLO skipped"
