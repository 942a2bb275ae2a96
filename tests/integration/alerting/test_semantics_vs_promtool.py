"""Our alerts, written as a promtool unit test, pass `promtool test rules` on the same samples:
stale markers end a series at once, empty labels are no labels, a sample exactly a window
old is in the window (Prometheus 2.x, our default)."""

from __future__ import annotations

import json
import subprocess
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path

import pytest
import yaml

from console.alerts.persistence import load_alerts
from console.alerts.state import AlertEngine
from console.rules.model import Rule, Threshold
from console.store import Store, canonical_labels, ingest_samples
from tests.servers import require_binary

pytestmark = pytest.mark.integration

EPOCH = datetime(1970, 1, 1)  # promtool's input series start at 0
M = timedelta(minutes=1)


@dataclass
class Scenario:
    """The same rule for both engines, the samples (None: a stale marker), and when to look."""

    ours: Rule
    promql: str
    series: dict[str, list[float | None]]  # 'name{labels}' -> one value a minute from 0
    minutes: list[int]
    prom_labels: dict[str, str] = field(default_factory=dict)


def _split(text: str) -> tuple[str, dict[str, str]]:
    name, _, rest = text.partition("{")
    pairs = [p.split("=", 1) for p in rest.rstrip("}").split(",") if p]
    return name, {k: json.loads(v) for k, v in pairs}


def _notation(values: list[float | None]) -> str:
    return " ".join("stale" if v is None else repr(v) for v in values)


def our_firing(tmp_path: Path, scenario: Scenario) -> dict[int, list[dict[str, str]]]:
    """Per minute, the label sets of our firing alerts (alertname left out)."""
    rows = [
        (name, canonical_labels(labels), EPOCH + k * M, value)
        for text, values in scenario.series.items()
        for name, labels in [_split(text)]
        for k, value in enumerate(values)
    ]
    import pandas as pd

    firing: dict[int, list[dict[str, str]]] = {}
    with Store.open(tmp_path / "ours.duckdb") as store:
        ingest_samples(store, pd.DataFrame(rows, columns=["name", "labels", "ts", "value"]))
        engine = AlertEngine(store, [scenario.ours])
        for minute in range(max(scenario.minutes) + 1):
            engine.run(EPOCH + minute * M)
            if minute in scenario.minutes:
                firing[minute] = sorted(
                    (
                        {k: v for k, v in a.labels.items() if k != "alertname"}
                        for a in load_alerts(store)
                        if a.state == "firing"
                    ),
                    key=lambda labels: sorted(labels.items()),
                )
    return firing


def promtool_passes(tmp_path: Path, scenario: Scenario, firing: dict[int, list[dict[str, str]]]) -> str:
    """promtool's output when the expectations are `firing`; '' when it passes."""
    rule = {"alert": scenario.ours.name, "expr": scenario.promql}
    if scenario.prom_labels:
        rule["labels"] = scenario.prom_labels
    (tmp_path / "rules.yaml").write_text(yaml.safe_dump({"groups": [{"name": "g", "rules": [rule]}]}))
    test = {
        "rule_files": ["rules.yaml"],
        "evaluation_interval": "1m",
        "tests": [
            {
                "interval": "1m",
                "input_series": [
                    {"series": text, "values": _notation(values)} for text, values in scenario.series.items()
                ],
                "alert_rule_test": [
                    {
                        "eval_time": f"{minute}m",
                        "alertname": scenario.ours.name,
                        "exp_alerts": [{"exp_labels": labels} for labels in sets],
                    }
                    for minute, sets in firing.items()
                ],
            }
        ],
    }
    (tmp_path / "test.yaml").write_text(yaml.safe_dump(test))
    done = subprocess.run(
        [require_binary("promtool"), "test", "rules", "test.yaml"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
    )
    return "" if done.returncode == 0 else done.stdout + done.stderr


SCENARIOS = {
    "a stale marker ends the series at the next evaluation": Scenario(
        Rule("Backlog", Threshold("jobs_waiting", "last", 5 * M, ">", 0), group="g"),
        "jobs_waiting > 0",
        {'jobs_waiting{queue="a"}': [3.0, 4.0, 4.0, 4.0], 'jobs_waiting{queue="b"}': [5.0, None, None, 9.0]},
        [0, 1, 2, 3],
    ),
    "a target that stops without a marker stays for the window": Scenario(
        Rule("Backlog", Threshold("jobs_waiting", "last", 5 * M, ">", 0), group="g"),
        "jobs_waiting > 0",
        {'jobs_waiting{queue="a"}': [3.0]},
        [0, 4, 5, 6],
    ),
    "empty labels are no labels": Scenario(
        Rule(
            "Errors",
            Threshold("errors", "last", 5 * M, ">", 0, ["svc"]),
            group="g",
            labels={"owner": "{{ $labels.owner }}", "severity": "page"},
        ),
        "sum by (svc) (errors) > 0",
        {
            'errors{svc="api",pod="p1"}': [3.0, 3.0],
            'errors{pod="p2"}': [4.0, 4.0],
            'errors{svc="",pod="p3"}': [1.0, 1.0],
        },
        [1],
        {"owner": "{{ $labels.owner }}", "severity": "page"},
    ),
    "a sample exactly a window old is in it": Scenario(
        Rule("Hot", Threshold("load", "max", 5 * M, ">", 50), group="g"),
        "max_over_time(load[5m]) > 50",
        {'load{pod="p"}': [100.0, 2.0, 2.0, 2.0, 2.0, 2.0, 2.0]},
        [4, 5, 6],
    ),
}


@pytest.mark.parametrize("scenario", SCENARIOS.values(), ids=SCENARIOS.keys())
def test_our_alerts_pass_promtool(tmp_path, scenario):
    firing = our_firing(tmp_path, scenario)
    assert any(firing.values())  # something fires, so the comparison says something
    assert promtool_passes(tmp_path, scenario, firing) == ""


def test_a_wrong_expectation_fails_promtool(tmp_path):
    scenario = SCENARIOS["a stale marker ends the series at the next evaluation"]
    firing = our_firing(tmp_path, scenario)
    firing[1] = [*firing[1], {"queue": "b"}]  # as if the marker did not end b
    assert "FAILED" in promtool_passes(tmp_path, scenario, firing)
