"""`oncall rules test` with the store's own rule syntax (threshold form and SQL): promtool's
test-file format, its series notation, its stepping and its way of printing failures."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
import yaml

from console.alerts.promtest import ingest_series, run_test_file, scratch_store
from console.cli.main import main
from console.rules.promtest.notation import OMITTED, NotationError, expand_values
from console.rules.promtest.spec import load_test_file

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "promtool"

RULES = """
groups:
  - name: availability
    rules:
      - alert: Down
        expr: {series: up, fn: last, over: 5m, by: [job, instance], op: "==", value: 0}
        for: 3m
        keep_firing_for: 2m
        labels: {severity: page}
        annotations: {summary: "{{ $labels.instance }} is down"}
  - name: sql
    rules:
      - alert: TooMany
        expr: "SELECT 'all' AS scope, {{ sum('up', '5m', by=[]) }} AS value WHERE value > 1"
"""


def _files(tmp_path: Path, test: dict, rules: str = RULES) -> Path:
    (tmp_path / "rules.yml").write_text(rules)
    path = tmp_path / "test.yml"
    path.write_text(yaml.safe_dump({"rule_files": ["rules.yml"], **test}, sort_keys=False))
    return path


def _down(instance: str) -> dict:
    return {
        "exp_labels": {"severity": "page", "job": "s", "instance": instance},
        "exp_annotations": {"summary": f"{instance} is down"},
    }


def _series(*pairs: tuple[str, str]) -> list[dict]:
    return [{"series": f'up{{job="s", instance="{i}"}}', "values": v} for i, v in pairs]


def _run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(["rules", "test", *args])
    out = capsys.readouterr()
    return code, out.out, out.err


# -- the notation --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("1+2x3", [1, 3, 5, 7]),
        ("1-1x3", [1, 0, -1, -2]),
        ("5x2", [5, 5, 5]),
        ("_ _x2 7", [OMITTED, OMITTED, OMITTED, 7]),
        ("-2 +3 1e3 .5 -1.5e-1", [-2, 3, 1000, 0.5, -0.15]),
        ("Inf -inf", [math.inf, -math.inf]),
        ("0x10", [0] * 11),  # not hex: 0, eleven times, as Prometheus reads it
        ("1 stale 2", [1, None, 2]),
    ],
)
def test_values_expand_as_prometheus_expands_them(text: str, expected: list) -> None:
    assert expand_values(text) == expected


def test_the_notation_fixture_verified_under_promtool_expands_the_same() -> None:
    """expanding_notation.yml passes under promtool: each eval_time is one sample's place."""
    spec = load_test_file(FIXTURES / "expanding_notation.yml")
    group = spec.groups[0]
    values = group.series[0].values
    for test in group.spec.promql_expr_test:
        value = values[int(test.eval_time / group.interval)]
        if not test.exp_samples:
            assert value is OMITTED or value is None, test.eval_time
        elif test.expr.startswith("count"):
            assert isinstance(value, float) and math.isnan(value)
        else:
            assert value == test.exp_samples[0].value, test.eval_time


@pytest.mark.parametrize("text", ["1+2", "abc", "1x", "1++2x3"])
def test_values_that_do_not_read_say_what_to_write(text: str) -> None:
    with pytest.raises(NotationError, match=r"write"):
        expand_values(text)


def test_stale_is_stored_as_a_null_sample_and_blank_as_no_sample(tmp_path: Path) -> None:
    path = _files(tmp_path, {"tests": [{"input_series": _series(("a", "1 _ stale _x2 4"))}]})
    group = load_test_file(path).groups[0]
    with scratch_store() as store:
        assert ingest_series(store, group) == 3
        rows = store.cursor().execute("SELECT epoch(ts), value FROM samples ORDER BY ts").fetchall()
    assert rows == [(0.0, 1.0), (120.0, None), (300.0, 4.0)]


# -- runs ----------------------------------------------------------------------------


def test_a_passing_file_says_success_and_exits_0(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = _files(
        tmp_path,
        {
            "tests": [
                {
                    "interval": "1m",
                    "input_series": _series(("a", "1 0x10"), ("b", "1x10")),
                    "alert_rule_test": [
                        {"eval_time": "3m", "alertname": "Down", "exp_alerts": []},  # pending
                        {"eval_time": "4m", "alertname": "Down", "exp_alerts": [_down("a")]},
                        {
                            "eval_time": "2m",
                            "alertname": "TooMany",
                            "exp_alerts": [{"exp_labels": {"scope": "all"}}],
                        },
                    ],
                }
            ]
        },
    )
    assert _run(capsys, str(path)) == (0, f"Unit Testing:  {path}\n  SUCCESS\n\n", "")


def test_keep_firing_for_and_eval_times_between_evaluations(tmp_path: Path) -> None:
    """Down 1m..6m, up after: fires at 4m, kept firing until 9m; 8m59s sees the 8m
    evaluation (evaluation_interval 1m), 9m sees it resolved."""
    path = _files(
        tmp_path,
        {
            "tests": [
                {
                    "input_series": _series(("a", "1 0x5 1x10")),
                    "alert_rule_test": [
                        {"eval_time": "8m59s", "alertname": "Down", "exp_alerts": [_down("a")]},
                        {"eval_time": "9m", "alertname": "Down", "exp_alerts": []},
                    ],
                }
            ]
        },
    )
    assert run_test_file(str(path)).errors == []


def test_a_wrong_expectation_prints_promtools_block(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = _files(
        tmp_path,
        {
            "tests": [
                {
                    "name": "wrong",
                    "input_series": _series(("b", "0x10"), ("a", "0x10")),
                    "alert_rule_test": [{"eval_time": "5m", "alertname": "Down", "exp_alerts": [_down("a")]}],
                }
            ]
        },
    )
    code, out, err = _run(capsys, str(path))
    assert code == 1
    assert out == f"Unit Testing:  {path}\n\n\n"  # one blank line per error, then one per file
    labels = '{alertname="Down", instance="%s", job="s", severity="page"}'
    assert err == (
        "  FAILED:\n    name: wrong,\n    alertname: Down, time: 5m, \n"
        "        exp:[\n            0:\n"
        f"              Labels:{labels % 'a'}\n"
        '              Annotations:{summary="a is down"}\n            ], \n'
        "        got:[\n            0:\n"
        f"              Labels:{labels % 'a'}\n"
        '              Annotations:{summary="a is down"},\n            1:\n'
        f"              Labels:{labels % 'b'}\n"
        '              Annotations:{summary="b is down"}\n            ]\n'
    )


def test_expression_tests_compare_labels_and_values(tmp_path: Path) -> None:
    select = "SELECT 'x' AS a, 0.5 AS value UNION ALL SELECT 'y', 1e22"
    path = _files(
        tmp_path,
        {
            "tests": [
                {
                    "promql_expr_test": [
                        {
                            "expr": select,
                            "eval_time": "1m",
                            "exp_samples": [
                                {"labels": '{a="y"}', "value": 1e22},
                                {"labels": '{a="x"}', "value": 0.5},
                            ],
                        },
                        {"expr": select, "exp_samples": [{"labels": '{a="x"}', "value": 2}]},
                        {
                            "expr": "SELECT 'nan'::DOUBLE AS value",
                            "exp_samples": [{"labels": "{}", "value": math.nan}],
                        },
                        {"expr": "SELECT * FROM nowhere", "eval_time": "90s"},
                    ]
                }
            ]
        },
    )
    errors = run_test_file(str(path)).errors
    assert errors[0] == (
        f'    expr: "{select}", time: 0s,\n'
        '        exp: {a="x"} 2E+00\n'
        '        got: {a="x"} 5E-01, {a="y"} 1E+22'
    )
    assert errors[1].endswith("exp: {} NaN\n        got: {} NaN")  # NaN equals nothing, as in promtool 2.42
    assert errors[2].startswith(
        '    expr: "SELECT * FROM nowhere", time: 1m30s, err: SQL error: Catalog Error'
    )
    assert len(errors) == 3


def test_group_eval_order_and_globs(tmp_path: Path) -> None:
    from console.alerts.promtest import _load_groups

    (tmp_path / "rules-b.yml").write_text(RULES)
    (tmp_path / "rules-a.yml").write_text(
        RULES.replace("availability", "other").replace("name: sql", "name: sql2")
    )
    path = tmp_path / "t.yml"
    path.write_text(
        yaml.safe_dump({"rule_files": ["rules-*.yml", "none-*.yml"], "group_eval_order": ["sql", "other"]})
    )
    spec = load_test_file(path)
    assert [p.name for p in spec.rule_files] == ["rules-a.yml", "rules-b.yml"]
    groups, problems = _load_groups(spec)  # groups not listed rank with the first, as in promtool
    assert problems == []
    assert [g[0].group for g in groups] == ["sql2", "availability", "sql", "other"]
    assert run_test_file(str(path)).warnings == [f"  WARNING: no file match pattern {tmp_path}/none-*.yml"]


def test_a_rule_that_fails_stops_the_group_with_its_time(tmp_path: Path) -> None:
    rules = (
        "groups:\n  - name: g\n    rules:\n      - alert: Broken\n        expr: \"SELECT 1/'a' AS value\"\n"
    )
    path = _files(
        tmp_path,
        {
            "tests": [
                {
                    "alert_rule_test": [{"eval_time": "2m", "alertname": "Broken"}],
                    "promql_expr_test": [{"expr": "SELECT 1 AS value"}],
                }
            ]
        },
        rules,
    )
    errors = run_test_file(str(path)).errors
    assert len(errors) == 1
    assert errors[0].startswith("    rule: Broken, time: 0s, err: SQL error: Conversion Error")


# -- files that do not read ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("test", "line", "words"),
    [
        ({"tests": [{"intervall": "1m"}]}, 4, "tests[0].intervall: unknown key; did you mean 'interval'?"),
        (
            {"tests": [{"input_series": [{"series": "up", "values": "1 two"}]}]},
            6,
            "cannot read 'two' in values",
        ),
        ({"tests": [{"input_series": [{"series": 'up{a=~"x"}'}]}]}, 5, "a series is written with `=` only"),
        ({"tests": [{"interval": "soon"}]}, 4, "not a duration"),
        ({"group_eval_order": ["g", "g"]}, 5, "group name repeated in evaluation order: g"),
    ],
)
def test_a_bad_test_file_is_one_line_with_file_line_and_what_to_do(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], test: dict, line: int, words: str
) -> None:
    path = _files(tmp_path, test)
    code, _, err = _run(capsys, str(path))
    assert code == 1
    problem = err.splitlines()[1]
    assert problem.startswith(f"    {path}:{line}: ")
    assert words in problem
    assert len(err.splitlines()) == 2  # FAILED: and the one line


def test_a_rule_file_that_does_not_load_is_said_with_its_line(tmp_path: Path) -> None:
    path = _files(
        tmp_path, {"tests": [{}]}, "groups:\n  - name: g\n    rules:\n      - alert: X\n        exprr: x\n"
    )
    errors = run_test_file(str(path)).errors
    assert any(e.startswith(f"    {tmp_path}/rules.yml:5: ") and "unknown key" in e for e in errors)


def test_json_lists_each_file_with_its_errors(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = _files(
        tmp_path,
        {
            "tests": [
                {
                    "alert_rule_test": [
                        {"eval_time": "0s", "alertname": "Nope", "exp_alerts": [{"exp_labels": {"a": "1"}}]}
                    ]
                }
            ]
        },
    )
    code, out, _ = _run(capsys, "--format", "json", str(path))
    report = json.loads(out)
    assert code == 1
    assert report[0]["file"] == str(path) and report[0]["ok"] is False
    assert "alertname: Nope, time: 0s" in report[0]["errors"][0]


def test_what_a_recording_rule_writes_is_read_by_the_rules_after_it_at_the_same_step(tmp_path: Path) -> None:
    """The runner's side of recording rules (their loading is another part of #18): a rule
    with `record` writes its instances as samples at the step, before the rules after it run."""
    from datetime import timedelta

    from console.alerts.promtest import run_group
    from console.rules.model import Rule, Threshold

    recording = Rule(name="ratio", expr="SELECT 'fraud' AS model, 0.5 AS value", group="g")
    recording.record = "model:ratio"  # type: ignore[attr-defined]
    alert = Rule(
        name="RatioHigh", expr=Threshold("model:ratio", "last", timedelta(minutes=5), ">", 0.1, ["model"])
    )
    exp = {"exp_labels": {"model": "fraud"}}
    path = tmp_path / "t.yml"
    path.write_text(
        yaml.safe_dump(
            {
                "tests": [
                    {
                        "alert_rule_test": [
                            {"eval_time": "0s", "alertname": "RatioHigh", "exp_alerts": [exp]}
                        ],
                        "promql_expr_test": [
                            {
                                "expr": "SELECT count(*) AS value FROM samples",
                                "eval_time": "2m",
                                "exp_samples": [{"labels": "{}", "value": 3}],  # steps 0, 1m and 2m
                            }
                        ],
                    }
                ]
            }
        )
    )
    group = load_test_file(path).groups[0]
    assert run_group(group, [[recording, alert]], timedelta(minutes=1)) == []
    assert run_group(group, [[alert, recording]], timedelta(minutes=1))[0].startswith(
        "    alertname: RatioHigh, time: 0s"
    )
