"""Canaries files: a good file loads with its defaults; each fault is one problem at its line."""

from datetime import timedelta

import pytest

from console.canary.model import CanaryFileError, load_canaries, load_canary_file

GOOD = """\
canaries:
  - name: fraud-v4
    model: fraud-detector
    baseline: champion
    canary: 4
    on_fail: rollback
    judge: {alpha: 0.01, pass: 80, marginal: 60, min_values: 10}
    metrics:
      - name: latency_p99
        query: 'histogram_quantile(0.99, sum by (le, version) (rate(request_duration_seconds_bucket[5m])))'
        direction: increase
        effect: {high: 1.2, low: 0.8}
        critical: true
      - name: error_rate
        query: 'sum by (version) (rate(errors_total[5m])) / sum by (version) (rate(requests_total[5m]))'
  - name: ranker-shadow
    model: ranker
    baseline: "3"
    canary: challenger
    shadow: {threshold: 0.7, window: 2h}
"""


def load(tmp_path, text):
    path = tmp_path / "canaries.yaml"
    path.write_text(text)
    return load_canary_file(path, text)


def problems(tmp_path, text):
    with pytest.raises(CanaryFileError) as caught:
        load(tmp_path, text)
    return [str(p) for p in caught.value.problems]


def test_a_good_file_loads_with_its_values_and_the_defaults(tmp_path):
    fraud, ranker = load(tmp_path, GOOD)
    assert (fraud.name, fraud.model, fraud.baseline, fraud.canary) == (
        "fraud-v4",
        "fraud-detector",
        "champion",
        "4",
    )
    assert fraud.source == f"{tmp_path / 'canaries.yaml'}:2" and ranker.source.endswith(":16")
    assert (fraud.label, fraud.interval, fraud.lookback) == (
        "version",
        timedelta(minutes=1),
        timedelta(hours=1),
    )
    assert fraud.on_fail == "rollback" and ranker.on_fail == "none"
    assert (fraud.judge.alpha, fraud.judge.pass_, fraud.judge.marginal, fraud.judge.min_values) == (
        0.01,
        80,
        60,
        10,
    )
    latency, errors = fraud.metrics
    assert (latency.effect.high, latency.effect.low, latency.critical) == (1.2, 0.8, True)
    assert (errors.direction, errors.effect.high, errors.effect.low, errors.critical) == (
        "increase",
        1.1,
        0.9,
        False,
    )
    assert latency.promql.text.startswith("histogram_quantile")
    assert ranker.metrics == [] and ranker.shadow is not None and ranker.shadow.window == timedelta(hours=2)
    assert (ranker.judge.alpha, ranker.judge.pass_, ranker.judge.marginal, ranker.judge.min_values) == (
        0.05,
        75,
        50,
        5,
    )


def test_a_loaded_file_keeps_no_python_name_for_pass(tmp_path):
    text = GOOD.replace("pass: 80", "pas: 80")
    assert problems(tmp_path, text) == [
        f"{tmp_path / 'canaries.yaml'}:7: canaries[0].judge.pas: unknown key; did you mean 'pass'?"
    ]


@pytest.mark.parametrize(
    "old, new, line, fragment",
    [
        ("    on_fail: rollback\n", "    on_fial: rollback\n", 6, "canaries[0].on_fial: unknown key; did you mean 'on_fail'?"),
        ("        direction: increase\n", "        direction: up\n", 11, "canaries[0].metrics[0].direction:"),
        (
            "'sum by (version) (rate(errors_total[5m])) /",
            "'sum by (version) (rate(errors_total[5m]) /",
            15,
            "canaries[0].metrics[1].query: PromQL parse error",
        ),
        ("effect: {high: 1.2, low: 0.8}", "effect: {high: 1.0, low: 0.8}", 12, "high is a ratio above 1"),
        ("effect: {high: 1.2, low: 0.8}", "effect: {high: 0.5, low: 0.8}", 12, "canaries[0].metrics[0].effect.high"),
        ("effect: {high: 1.2, low: 0.8}", "effect: {high: 1.2, low: 1.5}", 12, "low is a ratio between 0 and 1"),
        ("    canary: 4\n", "    canary: champion\n", 2, "baseline and canary are both 'champion'"),
        ("pass: 80, marginal: 60", "pass: 50, marginal: 60", 7, "marginal (60) must not be above pass (50)"),
        ("min_values: 10", "min_values: 0", 7, "canaries[0].judge.min_values"),
        ("    model: ranker\n", "    model: ranker\n    lookback: 0s\n", 18, "canaries[1].lookback: a positive duration"),
        ("    shadow: {threshold: 0.7, window: 2h}\n", "", 16, "give metrics, shadow, or both"),
        ("      - name: error_rate\n", "      - name: latency_p99\n", 14, "two metrics of canary 'fraud-v4' are named 'latency_p99' (first at line 9)"),
        ("  - name: ranker-shadow\n", "  - name: fraud-v4\n", 16, "two canaries are named 'fraud-v4' (first at line 2)"),
    ],
)  # fmt: skip
def test_each_fault_is_one_problem_at_its_line(tmp_path, old, new, line, fragment):
    assert old in GOOD
    found = problems(tmp_path, GOOD.replace(old, new))
    assert len(found) == 1, found
    assert found[0].startswith(f"{tmp_path / 'canaries.yaml'}:{line}: "), found
    assert fragment in found[0], found


def test_a_file_without_a_canaries_list_says_what_it_needs(tmp_path):
    assert problems(tmp_path, "slos: []\n") == [
        f"{tmp_path / 'canaries.yaml'}:1: a canaries file is a mapping with a `canaries:` list"
    ]


def test_bad_yaml_is_one_problem_at_its_line(tmp_path):
    found = problems(tmp_path, GOOD.replace("    model: ranker\n", "    model: [ranker\n"))
    assert (
        len(found) == 1 and found[0].startswith(f"{tmp_path / 'canaries.yaml'}:") and "bad YAML" in found[0]
    )


def test_a_name_twice_across_files_names_both_places(tmp_path):
    first, second = tmp_path / "a.yaml", tmp_path / "b.yaml"
    first.write_text(GOOD)
    second.write_text("canaries:\n  - {name: fraud-v4, model: m, baseline: '1', canary: '2', shadow: {}}\n")
    with pytest.raises(CanaryFileError) as caught:
        load_canaries([first, second])
    assert [str(p) for p in caught.value.problems] == [
        f"{second}:2: name: canary 'fraud-v4' is also defined at {first}:2; rename one"
    ]
