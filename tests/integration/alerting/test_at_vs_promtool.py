"""`oncall alerts --at T` against `promtool test rules` at eval_time T on the same series: the
alerts firing as of each time (`for`, `keep_firing_for`, a flapping series) are the ones
promtool expects, with T given as epoch seconds as Prometheus's API takes it."""

from __future__ import annotations

import json
import subprocess
from datetime import datetime, timedelta
from pathlib import Path

import pandas as pd
import pytest
import yaml

from console.cli.main import main
from console.store import Store, canonical_labels, ingest_samples
from tests.servers import require_binary

pytestmark = pytest.mark.integration

EPOCH = datetime(1970, 1, 1)  # promtool's input series start at 0
RULES = {
    "groups": [
        {
            "name": "g",
            "interval": "1m",
            "rules": [
                {"alert": "Errors", "expr": "errors > 0", "for": "10m", "labels": {"severity": "page"}},
                {"alert": "Flaps", "expr": "errors > 0", "for": "3m", "keep_firing_for": "5m"},
            ],
        }
    ]
}
# one value a minute from 0: errors for 40 minutes, a gap of 4, errors again for 20, then none
VALUES = {
    'errors{svc="api"}': [0.0] * 30 + [1.0] * 40 + [0.0] * 4 + [1.0] * 20 + [0.0] * 30,
    'errors{svc="db"}': [0.0] * 60 + [2.0] * 8 + [0.0] * 56,
}
MINUTES = [29, 35, 40, 41, 45, 69, 70, 72, 74, 75, 80, 94, 95, 99, 100, 120]


def _ours(workspace: Path, capsys: pytest.CaptureFixture[str], minute: int) -> dict[str, list[dict]]:
    at = str(minute * 60)  # epoch seconds
    assert main(["-w", str(workspace), "alerts", "--at", at, "--state", "firing", "--format", "json"]) == 0
    firing: dict[str, list[dict]] = {"Errors": [], "Flaps": []}
    for alert in json.loads(capsys.readouterr().out):
        firing[alert["name"]].append(alert["labels"])
    return firing


def test_alerts_at_each_time_are_what_promtool_expects(tmp_path: Path, capsys, monkeypatch) -> None:
    (tmp_path / "rules.yaml").write_text(yaml.safe_dump(RULES))
    (tmp_path / "oncall.yaml").write_text("store: s.duckdb\nrules: [rules.yaml]\n")
    rows = []
    for text, values in VALUES.items():
        name, _, rest = text.partition("{")
        labels = dict(pair.split("=", 1) for pair in rest.rstrip("}").split(","))
        labels = {k: json.loads(v) for k, v in labels.items()}
        rows += [
            (name, canonical_labels(labels), EPOCH + timedelta(minutes=k), v) for k, v in enumerate(values)
        ]
    with Store.open(tmp_path / "s.duckdb") as store:
        ingest_samples(store, pd.DataFrame(rows, columns=["name", "labels", "ts", "value"]))
    monkeypatch.setenv("ONCALL_NOW", (EPOCH + timedelta(hours=3)).isoformat() + "Z")
    ours = {minute: _ours(tmp_path, capsys, minute) for minute in MINUTES}
    # the times chosen see both rules fire and stop, so the comparison can fail
    assert any(f["Errors"] for f in ours.values()) and any(not f["Errors"] for f in ours.values())
    assert any(f["Flaps"] and not f["Errors"] for f in ours.values())
    test = {
        "rule_files": ["rules.yaml"],
        "evaluation_interval": "1m",
        "tests": [
            {
                "interval": "1m",
                "input_series": [
                    {"series": text, "values": " ".join(repr(v) for v in values)}
                    for text, values in VALUES.items()
                ],
                "alert_rule_test": [
                    {
                        "eval_time": f"{minute}m",
                        "alertname": name,
                        "exp_alerts": [{"exp_labels": labels} for labels in firing[name]],
                    }
                    for minute, firing in ours.items()
                    for name in ("Errors", "Flaps")
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
    assert done.returncode == 0, done.stdout + done.stderr
