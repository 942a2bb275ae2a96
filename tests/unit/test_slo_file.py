"""SLO files: loading, file:line errors, and `oncall check` reporting them."""

import textwrap

import pytest

from console.cli.main import main
from console.slo.model import SLOFileError, load_slo_file

GOOD = """\
slos:
  - name: api-availability
    objective: 99.9
    sli:
      ratio: {bad: 'req_total{code=~"5.."}', total: req_total, by: [model]}
    alerting: {ticket: false, labels: {team: ml}}
  - name: api-latency
    objective: 99
    window: 28d
    min_events: 100
    sli:
      latency: {buckets: 'req_seconds_bucket{job="api"}', threshold: 0.25}
"""


def write(tmp_path, text):
    path = tmp_path / "slos.yaml"
    path.write_text(textwrap.dedent(text))
    return path


def test_a_good_file_loads(tmp_path):
    first, second = load_slo_file(write(tmp_path, GOOD))
    assert first.budget == pytest.approx(0.001) and first.by == ["model"]
    assert not first.alerting.ticket.enabled and first.alerting.labels == {"team": "ml"}
    assert second.window.days == 28 and second.min_events == 100


@pytest.mark.parametrize(
    "text, where, fragment",
    [
        (
            "slos:\n  - name: x\n    objective: 100\n    sli: {ratio: {good: a, total: b}}\n",
            ":3: slos[0].objective",
            "less than 100",
        ),
        (
            "slos:\n  - name: x\n    objective: 99\n    sli:\n      ratio: {good: 'a{b=}', total: b}\n",
            ":5: slos[0].sli.ratio",
            "quoted value",
        ),
        (
            "slos:\n  - name: x\n    objective: 99\n    sli: {ratio: {good: a, bad: c, total: b}}\n",
            ":4: slos[0].sli.ratio",
            "exactly one of good or bad",
        ),
        (
            "slos:\n  - name: x\n    objective: 99\n    windwo: 7d\n    sli: {ratio: {good: a, total: b}}\n",
            ":4: slos[0].windwo",
            "unknown key",
        ),
        (
            "slos:\n  - name: x\n    objective: 99\n    window: 1d\n    sli: {ratio: {good: a, total: b}}\n",
            ":2: window",
            "shorter than the longest alert window",
        ),
        (
            "slos:\n  - {name: x, objective: 99, sli: {ratio: {good: a, total: b}}}\n"
            "  - {name: x, objective: 98, sli: {ratio: {good: a, total: b}}}\n",
            ":3: name",
            "two SLOs are named 'x'",
        ),
    ],
)
def test_problems_name_file_line_and_key(tmp_path, text, where, fragment):
    with pytest.raises(SLOFileError) as caught:
        load_slo_file(write(tmp_path, text))
    message = str(caught.value.problems[0])
    assert where in message and fragment in message


def test_oncall_check_reports_slo_problems(tmp_path, capsys):
    (tmp_path / "oncall.yaml").write_text("store: s.duckdb\nslos: [slos.yaml]\n")
    write(tmp_path, "slos:\n  - name: x\n    objective: 250\n    sli: {ratio: {good: a, total: b}}\n")
    assert main(["-w", str(tmp_path), "check"]) == 1
    assert "slos.yaml:3: slos[0].objective" in capsys.readouterr().out
    write(tmp_path, GOOD)
    assert main(["-w", str(tmp_path), "check"]) == 0
