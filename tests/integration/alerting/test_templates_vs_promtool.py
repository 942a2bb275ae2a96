"""Our Go-template rendering of labels and annotations, confirmed by `promtool test rules`.

A Prometheus rule file whose label and annotation templates use what alerting rules use
(humanize*, printf with several verbs, if/else, range over $labels, query, $externalLabels)
over samples whose values are 22, 0.1, 1e6, +Inf, NaN and more; a promtool test file whose
expected labels and annotations are what OUR renderer produces.  promtool passing means
Prometheus expands every template exactly as we do; a deliberately wrong expectation (a
Jinja-style `22.0`) must fail under promtool, so this test can fail.
"""

from __future__ import annotations

import math
import subprocess
from pathlib import Path

import yaml

from console.rules.gotemplate import expand
from console.rules.loading import load_rule_file
from tests.servers import require_binary

EXTERNAL_LABELS = {"cluster": "eu-1", "region": "west"}
EXTERNAL_URL = "http://prometheus.example:9090/prom"

# case label -> (sample value as promtool's series notation writes it, the value)
CASES = {
    "v22": ("22", 22.0),
    "v01": ("0.1", 0.1),
    "v1e6": ("1e6", 1e6),
    "vinf": ("+Inf", math.inf),
    "vneginf": ("-Inf", -math.inf),
    "vnan": ("NaN", math.nan),
    "vsmall": ("-0.000123", -0.000123),
    "vbig": ("123456789", 123456789.0),
    "vdur": ("93784.5", 93784.5),
    "vpct": ("0.98765", 0.98765),
    "vzero": ("0", 0.0),
    "v1e21": ("1e21", 1e21),
}

LABEL_TEMPLATES = {
    "severity": "{{ if gt $value 1000.0 }}page{{ else }}ticket{{ end }}",
    "shown": "{{ $value }}",
}

ANNOTATIONS = {
    "value": "{{ $value }}",
    "dot_value": "{{ .Value }}",
    "humanize": "{{ $value | humanize }}",
    "humanize1024": "{{ humanize1024 $value }}",
    "duration": "{{ humanizeDuration $value }}",
    "percentage": "{{ humanizePercentage $value }}",
    "printf": '{{ printf "%.2f|%g|%e|%v|%s|%d|%x|%q|%5.1f%%|%-6s|%08.3f" $value $value $value $value '
    "$labels.case (len $labels) 255 $labels.case $value $labels.case $value }}",
    "printf_misuse": '{{ printf "%d|%s|%d %d" $value $value 1 }}',
    "printf_extra": '{{ printf "%.1f" $value 7 }}',
    "if_else": "{{ if gt $value 1000.0 }}big{{ else if gt $value 0.5 }}mid{{ else if lt $value 0.0 }}neg"
    "{{ else }}small{{ end }}",
    "range_labels": "{{ range $k, $v := $labels }}{{ $k }}={{ $v }};{{ end }}",
    "range_values": "{{ range $labels }}[{{ . }}]{{ else }}none{{ end }}",
    "strings": '{{ toUpper $labels.case }} {{ toLower "MiXeD" }} {{ title "hello world" }} '
    '{{ reReplaceAll "v(.*)" "x$1" $labels.case }} {{ match "^v[0-9]" $labels.case }}',
    # (not the functions externalURL and pathPrefix: promtool has no external URL object for them)
    "external": "{{ $externalLabels.cluster }}/{{ .ExternalLabels.region }}|{{ $externalURL }}|{{ .ExternalURL }}",
    "missing": "[{{ $labels.nope }}]{{ with $labels.nope }}x{{ else }}none{{ end }}",
    "misc": 'a  {{- /* a comment */ -}}  b {{ len $labels }} {{ index $labels "model" }} '
    '{{ eq $labels.model "m1" }} {{ and 1 0 }} {{ or 0 "x" }} {{ not true }} {{ print 1 2 "a" "b" $value }}',
    "host": '{{ stripPort "scorer-1.prod:9090" }} {{ stripDomain "scorer-1.prod.example:9090" }} '
    '{{ humanizeTimestamp 1.5 }} {{ humanize "2048" }} {{ $x := 3 }}{{ $x = 4 }}{{ $x }}',
    "verbs": '{{ printf "%x|%X|%.3g|%10.4e|%+d|%t|%q|%c|%U|%o|%b|%08b" $value $value $value $value 42 true '
    '"tab\\there ünï \\"q\\"" 65 65 8 5 5 }}',
    "strings2": '{{ title "hello-world foo_bar x.y" }}|{{ reReplaceAll "(?P<a>v)(.*)" "${2}-$a-$$-${9}" $labels.case }}|'
    '{{ len "ünï" }}|{{ html "<a href=\\"x\\">&</a>" }}|{{ urlquery "a b&c" }}|'
    '{{ parseDuration "1h30m" }}|{{ humanize "1e3" }}',  # (urlQueryEscape and now are newer than 2.42)
    "printed": '{{ . }}|{{ $labels }}|{{ index $labels "nope" }}|{{ index .ExternalLabels "cluster" }}',
    "query": '{{ with query "sum(my_metric{case=\\"v22\\"})" }}{{ . | first | value | humanize }}{{ end }} '
    '{{ range query "my_metric{case=~\\"v22|v01\\"}" | sortByLabel "case" }}'
    "{{ .Labels.case }}={{ .Value }},{{ end }} "
    '{{ label "case" (query "my_metric{case=\\"v01\\"}" | first) }}',
}


def _query(expr: str) -> list[tuple[dict[str, str], float]]:
    """The answers Prometheus gives the test's queries (stands in for the PromQL evaluator)."""
    series = {c: {"__name__": "my_metric", "case": c, "model": "m1"} for c in ("v22", "v01")}
    answers = {
        'sum(my_metric{case="v22"})': [({}, 22.0)],
        'my_metric{case=~"v22|v01"}': [(series["v22"], 22.0), (series["v01"], 0.1)],
        'my_metric{case="v01"}': [(series["v01"], 0.1)],
    }
    return answers[expr]


def _ours(text: str, labels: dict[str, str], value: float) -> str:
    return expand(
        text, labels, value, external_labels=EXTERNAL_LABELS, external_url=EXTERNAL_URL, query=_query
    )


def _expected_alerts() -> list[dict[str, object]]:
    alerts = []
    for case, (_, value) in CASES.items():
        sample = {"__name__": "my_metric", "case": case, "model": "m1"}  # what `my_metric` returns
        labels = {k: v for k, v in sample.items() if k != "__name__"}
        labels |= {k: _ours(t, sample, value) for k, t in LABEL_TEMPLATES.items()}
        annotations = {k: _ours(t, sample, value) for k, t in ANNOTATIONS.items()}
        alerts.append({"exp_labels": labels, "exp_annotations": annotations})
    return alerts


def _write(tmp_path: Path, alerts: list[dict[str, object]], name: str) -> Path:
    rules = {
        "groups": [
            {
                "name": "templates",
                "rules": [
                    {
                        "alert": "Templated",
                        "expr": "my_metric",
                        "labels": LABEL_TEMPLATES,
                        "annotations": ANNOTATIONS,
                    }
                ],
            }
        ]
    }
    (tmp_path / "rules.yaml").write_text(yaml.safe_dump(rules, sort_keys=False))
    test = {
        "rule_files": ["rules.yaml"],
        "evaluation_interval": "1m",
        "tests": [
            {
                "interval": "1m",
                "external_labels": EXTERNAL_LABELS,
                "external_url": EXTERNAL_URL,
                "input_series": [
                    {"series": f'my_metric{{case="{case}", model="m1"}}', "values": f"{text} {text} {text}"}
                    for case, (text, _) in CASES.items()
                ],
                "alert_rule_test": [{"eval_time": "1m", "alertname": "Templated", "exp_alerts": alerts}],
            }
        ],
    }
    path = tmp_path / name
    path.write_text(yaml.safe_dump(test, sort_keys=False, allow_unicode=True))
    return path


def _promtool(path: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [require_binary("promtool"), "test", "rules", path.name],
        cwd=path.parent,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_promtool_expands_every_template_as_we_do(tmp_path: Path) -> None:
    alerts = _expected_alerts()
    v22 = alerts[0]["exp_annotations"]
    assert isinstance(v22, dict) and v22["value"] == "22"  # not Jinja's "22.0"
    done = _promtool(_write(tmp_path, alerts, "test.yaml"))
    assert done.returncode == 0, done.stdout + done.stderr
    assert "SUCCESS" in done.stdout + done.stderr
    # and the same rule file loads here, every template parsing (its expr is PromQL, not ours to check)
    loaded = load_rule_file(tmp_path / "rules.yaml", check_sql=False)
    assert [p for p in loaded.problems if p.key != "expr"] == []


def test_a_wrong_expectation_fails_under_promtool(tmp_path: Path) -> None:
    alerts = _expected_alerts()
    annotations = alerts[0]["exp_annotations"]
    assert isinstance(annotations, dict)
    annotations["value"] = "22.0"  # what a Jinja template printed before
    done = _promtool(_write(tmp_path, alerts, "wrong.yaml"))
    assert done.returncode == 1, done.stdout + done.stderr
    assert "22.0" in done.stdout + done.stderr


LOAD_CASES = [
    "{{ humanise $value }}",
    "{{ $nope }}",
    "{{ if $value }}x",
    "{{ end }}",
    '{{ "a" "b" }}',  # parses; fails only when expanded
    '{{ printf "%d"1 }}',
    "{{ len(.) }}",
    "{{ $x := 1 }}{{ $x }}",
    "{{ range $i, $e := $labels }}{{ end }}",
    "{{ with $a, $b := $labels }}{{ end }}",
    "{{ 1.5.x }}",
    "{{ $value.x }}",
    "{{ 'ab' }}",
    "{{ 0x1p-2 }}",
    "{{ break }}",
    "{{/* x */}}",
    "{{ /* x */ }}",
    "{{- /* x */ -}}",
    "{{ if gt $value 0.5 }}a{{ else if lt $value 0.1 }}b{{ else }}c{{ end }}",
    "{{ range $labels }}{{ if . }}{{ continue }}{{ end }}{{ end }}",
]


def test_a_template_loads_here_exactly_when_promtool_accepts_it(tmp_path: Path) -> None:
    from console.rules.model import template_problem

    disagree = []
    for text in LOAD_CASES:
        rules = {
            "groups": [{"name": "g", "rules": [{"alert": "A", "expr": "up", "annotations": {"s": text}}]}]
        }
        path = tmp_path / "r.yaml"
        path.write_text(yaml.safe_dump(rules))
        checked = subprocess.run(
            [require_binary("promtool"), "check", "rules", str(path)],
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        if (checked.returncode == 0) != (template_problem(text, "go") is None):
            disagree.append((text, checked.returncode, template_problem(text, "go")))
    assert disagree == []
    # on purpose stricter than promtool: `{{ value }}` parses in Go but can only fail; it is Jinja
    assert "templates: jinja" in str(template_problem("{{ value }}", "go"))
