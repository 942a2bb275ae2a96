"""Label and annotation templates in Go's text/template, as Prometheus expands them."""

from __future__ import annotations

import math
import time
from datetime import UTC, datetime

import pytest

from console.alerts.lifecycle import render
from console.rules.gotemplate import Limits, check, expand
from console.rules.loading import load_rule_file
from console.rules.model import Rule

LABELS = {"model": "fraud-v4", "instance": "scorer-1.prod.example:9090", "severity": "page"}
NOW = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)


def go(text: str, value: float | None = 0.7, labels: dict[str, str] | None = None, **kw: object) -> str:
    return expand(text, LABELS if labels is None else labels, value, **kw)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("value", "shown"),
    [
        (22.0, "22"),
        (0.1, "0.1"),
        (1e6, "1e+06"),
        (123456.0, "123456"),
        (1234567.0, "1.234567e+06"),
        (1e21, "1e+21"),
        (1e-5, "1e-05"),
        (0.0001, "0.0001"),
        (-0.0, "-0"),
        (math.inf, "+Inf"),
        (-math.inf, "-Inf"),
        (math.nan, "NaN"),
    ],
)
def test_value_prints_as_go_prints_a_float64(value: float, shown: str) -> None:
    assert go("{{ $value }}", value) == shown
    assert go("{{ .Value }}", value) == shown


@pytest.mark.parametrize(
    ("text", "value", "shown"),
    [
        ("{{ $value | humanize }}", 1234567.0, "1.235M"),
        ("{{ humanize $value }}", 0.0123, "12.3m"),
        ("{{ humanize $value }}", 0.0, "0"),
        ("{{ humanize $value }}", math.inf, "+Inf"),
        ("{{ humanize1024 $value }}", 1536.0, "1.5ki"),
        ("{{ humanizeDuration $value }}", 93784.0, "1d 2h 3m 4s"),
        ("{{ humanizeDuration $value }}", 3.5, "3.5s"),
        ("{{ humanizeDuration $value }}", 0.25, "250ms"),
        ("{{ humanizeDuration $value }}", -90.0, "-1m 30s"),
        ("{{ humanizePercentage $value }}", 0.12345, "12.35%"),
        ("{{ humanizeTimestamp $value }}", 1.5, "1970-01-01 00:00:01.5 +0000 UTC"),
        ('{{ humanize "2048" }}', 0.0, "2.048k"),
    ],
)
def test_humanize_functions(text: str, value: float, shown: str) -> None:
    assert go(text, value) == shown


@pytest.mark.parametrize(
    ("text", "shown"),
    [
        ('{{ printf "%.2f" $value }}', "0.70"),
        ('{{ printf "%d" (len $labels) }}', "3"),
        ('{{ printf "%d" $value }}', "%!d(float64=0.7)"),
        ('{{ printf "%s" $value }}', "%!s(float64=0.7)"),
        ('{{ printf "%v|%g|%e" $value $value $value }}', "0.7|0.7|7.000000e-01"),
        ('{{ printf "%x %X %x" 255 255 "hi" }}', "ff FF 6869"),
        ('{{ printf "%q" $labels.model }}', '"fraud-v4"'),
        ('{{ printf "%5.1f%%|%-4s|" 12.345 "ab" }}', " 12.3%|ab  |"),
        ('{{ printf "%d %d" 1 }}', "1 %!d(MISSING)"),
        ('{{ printf "%d" 1 2 }}', "1%!(EXTRA int=2)"),
        ('{{ printf "%.2f" 1 }}', "%!f(int=1)"),
    ],
)
def test_printf_verbs(text: str, shown: str) -> None:
    assert go(text) == shown


@pytest.mark.parametrize(
    ("text", "shown"),
    [
        ("{{ $labels.model }} / {{ .Labels.severity }}", "fraud-v4 / page"),
        ("[{{ $labels.nope }}]", "[]"),  # a missing label is "" (missingkey=zero)
        ("{{ if gt $value 0.5 }}high{{ else if gt $value 0.1 }}mid{{ else }}low{{ end }}", "high"),
        ('{{ if and (eq $labels.severity "page") (not (lt $value 0.5)) }}page{{ end }}', "page"),
        ("{{ range $k, $v := $labels }}{{ $k }}={{ $v }};{{ end }}", None),
        ("{{ range $labels }}{{ . }},{{ else }}none{{ end }}", "scorer-1.prod.example:9090,fraud-v4,page,"),
        (
            '{{ range $k, $v := $labels }}{{ if eq $k "model" }}{{ break }}{{ end }}{{ $k }} {{ end }}',
            "instance ",
        ),
        ("{{ $x := 1 }}{{ if true }}{{ $x = 2 }}{{ end }}{{ $x }}", "2"),
        ("a  {{- 1 -}}  b {{/* a comment */}}c{{- /* trimmed */ -}} d", "a1b cd"),
        (
            "{{ toUpper $labels.model }} {{ toLower `AB` }} {{ title `hello world` }}",
            "FRAUD-V4 ab Hello World",
        ),
        ('{{ reReplaceAll "(.*):.*" "$1" $labels.instance }}', "scorer-1.prod.example"),
        (
            '{{ match "^scorer" $labels.instance }} {{ stripPort $labels.instance }}',
            "true scorer-1.prod.example",
        ),
        ("{{ stripDomain $labels.instance }}", "scorer-1:9090"),
        ('{{ index $labels "model" }} {{ len "héllo" }} {{ or 0 "" "x" }} {{ and 1 0 }}', "fraud-v4 6 x 0"),
        (
            "{{ with $labels.model }}{{ . }}{{ end }}{{ with $labels.nope }}no{{ else }}-{{ end }}",
            "fraud-v4-",
        ),
        ('{{ print 1 2 "a" "b" 3 }}', "1 2ab3"),  # fmt.Sprint: a space only between two non-strings
        ("{{ $externalLabels.cluster }}|{{ $externalURL }}", "|"),
    ],
)
def test_language(text: str, shown: str | None) -> None:
    out = go(text)
    if shown is None:  # range over a map: sorted keys
        assert out == "instance=scorer-1.prod.example:9090;model=fraud-v4;severity=page;"
    else:
        assert out == shown


def test_nan_compares_as_go_does() -> None:
    # Go's gt is "not le" and ge is "not lt": NaN is greater than everything (promtool agrees)
    text = "{{ gt $value 1.0 }} {{ ge $value 1.0 }} {{ lt $value 1.0 }} {{ le $value 1.0 }} {{ eq $value $value }}"
    assert go(text, math.nan) == "true true false false false"
    overflowed = "-106751991167300d -15h -30m -8s"  # Go's int64() of 1e21, as promtool prints it
    assert go("{{ humanizeDuration $value }}", 1e21) == overflowed


def test_external_labels_and_now() -> None:
    out = go("{{ $externalLabels.cluster }} {{ now }}", external_labels={"cluster": "eu-1"}, now=NOW)
    assert out == "eu-1 1.7961264e+09"  # a float64, printed as Go prints one


def test_query_calls_the_callback_and_without_one_says_so() -> None:
    rows = [({"instance": "b"}, 2.0), ({"instance": "a"}, 1.0)]
    text = '{{ range sortByLabel "instance" (query "up == 0") }}{{ .Labels.instance }}={{ .Value }} {{ end }}'
    asked: list[str] = []
    assert go(text, query=lambda expr: asked.append(expr) or rows) == "a=1 b=2 "
    assert asked == ["up == 0"]
    assert go('{{ query "up" | first | value | humanize }}', query=lambda _: rows) == "2"
    assert go('{{ label "instance" (query "up" | first) }}', query=lambda _: rows) == "b"
    assert go('{{ query "up" | first }}', query=lambda _: []).startswith("<error expanding template: ")
    assert "no query function" in go('{{ query "up" }}')

    def failing(expr: str) -> list[tuple[dict[str, str], float]]:
        raise ValueError(f"parse error at 3 of {expr}")

    broken = go('{{ query "up" }}', query=failing)
    assert broken.startswith("<error expanding template: ") and "parse error at 3" in broken


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("{{ gt $value 1 }}", "incompatible types for comparison"),  # 1 is an int, as in Go
        ('{{ humanize "abc" }}', 'error calling humanize: strconv.ParseFloat: parsing "abc": invalid syntax'),
        ("{{ toUpper $value }}", "wrong type for value; expected string; got float64"),
        ("{{ $labels.model.x }}", "can't evaluate field x in type string"),
        ("{{ .Nope }}", "can't evaluate field Nope"),
        ('{{ reReplaceAll "(" "" "x" }}', "error parsing regexp"),
        ('{{ "a" "b" }}', "can't give argument to non-function"),
    ],
)
def test_render_errors_become_prometheus_error_text(text: str, fragment: str) -> None:
    out = go(text)
    assert out.startswith("<error expanding template: ") and out.endswith(">")
    assert fragment in out


@pytest.mark.parametrize(
    ("text", "line", "col", "fragment"),
    [
        ("{{ humanise $value }}", 1, 4, "function 'humanise' not defined (did you mean humanize?)"),
        ("ok\n  {{ $nope }}", 2, 6, "undefined variable '$nope'"),
        ("{{ if $value }}x", 1, 17, "unexpected EOF"),
        ("{{ end }}", 1, 4, "unexpected {{end}}"),
        ('{{ "open }}', 1, 4, "unterminated quoted string"),
        ("{{ $value ", 1, 3, "unclosed action"),
        ("{{ break }}", 1, 4, "{{break}} outside {{range}}"),
        ('{{ define "x" }}{{ end }}', 1, 4, "{{define}} is not supported"),
    ],
)
def test_parse_errors_say_line_and_column(text: str, line: int, col: int, fragment: str) -> None:
    error = check(text)
    assert error is not None
    assert (error.line, error.col) == (line, col)
    assert fragment in error.message


def test_hostile_label_values_render_literally() -> None:
    hostile = {"msg": "{{ .Value }} {{ query `up` }} $labels {{- end }} %d %!", "x": "}}{{"}
    assert go("{{ $labels.msg }}|{{ .Labels.x }}", labels=hostile) == hostile["msg"] + "|}}{{"
    assert go('{{ printf "%s" $labels.msg }}', labels=hostile) == hostile["msg"]
    assert (
        go("{{ $labels.__class__ }}{{ .Labels.__dict__ }}", labels=hostile) == ""
    )  # map keys, not attributes
    assert go("{{ humanize $labels.msg }}", labels=hostile).startswith("<error expanding template: ")


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("{{ range $labels }}" * 8 + "x" + "{{ end }}" * 8, "range iterations"),
        (
            '{{ $s := "ab" }}{{ range $labels }}{{ range $labels }}{{ range $labels }}'
            '{{ $s = printf "%s%s" $s $s }}{{ end }}{{ end }}{{ end }}{{ $s }}',
            "longer than",
        ),
        ('{{ printf "%099999d" 1 }}', "width or precision"),
        (
            '{{ range $labels }}{{ range $labels }}{{ printf "%4000s" "x" }}{{ end }}{{ end }}',
            "output is longer",
        ),
    ],
)
def test_bounds_end_in_error_text_quickly(text: str, fragment: str) -> None:
    labels = {f"l{i}": "v" for i in range(10)}
    started = time.perf_counter()
    out = go(text, labels=labels, limits=Limits(output=20_000, iterations=5_000))
    assert time.perf_counter() - started < 2
    assert out.startswith("<error expanding template: ") and fragment in out


def test_a_function_cannot_build_a_huge_string() -> None:
    big = {"b": "x" * 60_000}
    started = time.perf_counter()
    out = go('{{ reReplaceAll "" $labels.b $labels.b }}', labels=big)  # 60,000 insertions of 60,000
    assert time.perf_counter() - started < 2
    assert "error calling reReplaceAll: the result is longer than 65536 characters" in out


def test_nesting_and_length_are_bounded_at_parse_time() -> None:
    deep = "{{ if true }}" * 60 + "{{ end }}" * 60
    assert "nested deeper than" in str(check(deep))
    assert "longer than" in str(check("x" * 70_000))


def test_lifecycle_render_uses_go_unless_the_file_declares_jinja(tmp_path) -> None:
    assert render("{{ $labels.a }} {{ $value }}", {"a": "x"}, 22.0, NOW) == "x 22"
    jinja = Rule("J", "SELECT 1 AS value", annotations={"s": "{{ labels.a }} {{ value }}"}, templates="jinja")
    assert render(jinja.annotations["s"], {"a": "x"}, 22.0, NOW) == "x 22.0"
    with pytest.raises(ValueError, match="templates must be one of go, jinja"):
        Rule("Bad", "SELECT 1 AS value", templates="mustache")


RULES = """\
{head}groups:
  - name: g
    rules:
      - alert: A
        expr: SELECT 1.0 AS value
        labels:
          owner: "{{{{ $labels.team }}}}"
        annotations:
          summary: "{summary}"
"""


def _problems(tmp_path, summary: str, head: str = "") -> list[str]:
    path = tmp_path / "rules.yaml"
    path.write_text(RULES.format(head=head, summary=summary))
    return [str(p) for p in load_rule_file(path, check_sql=False).problems]


def test_rule_files_default_to_go_and_report_a_bad_template_at_file_line(tmp_path) -> None:
    assert _problems(tmp_path, "{{ $value | humanize }}") == []
    (problem,) = _problems(tmp_path, "{{ $value | humanise }}")
    assert f"{tmp_path / 'rules.yaml'}:9: annotations.summary: bad template (Go, line 1 col 13)" in problem
    assert "did you mean humanize?" in problem


def test_a_jinja_template_in_a_go_file_says_what_to_do(tmp_path) -> None:
    (problem,) = _problems(tmp_path, "{{ value }}")
    assert ":9: annotations.summary:" in problem and "templates: jinja" in problem and "$value" in problem


def test_a_file_may_declare_jinja(tmp_path) -> None:
    path = tmp_path / "rules.yaml"
    text = RULES.format(head="templates: jinja\n", summary="{{ labels.x }} {{ value | round(2) }}")
    path.write_text(text.replace("$labels.team", "labels.team"))
    loaded = load_rule_file(path, check_sql=False)
    assert loaded.problems == [] and loaded.rules[0].templates == "jinja"
    summary = loaded.rules[0].annotations["summary"]
    assert render(summary, {"x": "a"}, 22.456, NOW) == "a 22.46"  # still rendered by Jinja
    assert "bad template" in _problems(tmp_path, "{{ $value }}", head="templates: jinja\n")[0]
    path.write_text(RULES.format(head="templates: mustache\n", summary="x"))
    (problem,) = [str(p) for p in load_rule_file(path, check_sql=False).problems]
    assert problem.startswith(f"{path}:1: templates:")


def test_the_demo_workspace_rules_are_go_templates_that_expand() -> None:
    from pathlib import Path

    from console.config.workspace import load_workspace
    from console.rules.model import template_problem
    from console.runtime.lastgood import load_config

    demo = Path(__file__).parents[2] / "console" / "demo_workspace" / "oncall.yaml"
    rules = load_config(load_workspace(demo), None, NOW).all_rules()
    assert {r.source for r in rules} >= {"slo", "health", "drift", "oncall"}
    labels = {
        "collector": "prom",
        "reason": "stale",
        "model": "fraud",
        "column": "amount",
        "test": "psi",
        "file": "rules/app.yaml",
        "in_force": "last_good",
        "rule": "g/r",
    }
    for rule in rules:
        assert rule.templates == "go", rule.key
        for text in [*rule.labels.values(), *rule.annotations.values()]:
            assert template_problem(text, "go") is None, (rule.key, text)
            out = render(text, labels, 0.25, NOW)
            assert "<error" not in out, (rule.key, out)
    summaries = {r.name: render(r.annotations["summary"], labels, 0.25, NOW) for r in rules}
    assert summaries["DataDrift"] == "amount of fraud drifted: psi 0.250"
    assert summaries["DatasetDrift"] == "dataset drift on fraud: 25% of columns drifted"
    assert (
        summaries["OncallConfigInvalid"]
        == "rules/app.yaml does not load; its last good version is still in force"
    )
