"""`oncall canary shadow MODEL --champion V --shadow V` as an engineer runs it: table, JSON,
--record, exit codes, one-line usage errors, and its place under `oncall canary`."""

from __future__ import annotations

import argparse
import json
from datetime import timedelta
from pathlib import Path

import numpy as np
import pytest

from console.canary.shadow import shadow_report
from console.cli.commands import canary_shadow
from console.cli.main import main
from console.store import Store
from tests.unit.test_canary_shadow import CHAMPION, NOW, SHADOW, pair, put, put_labels


@pytest.fixture
def store_path(tmp_path: Path) -> str:
    path = tmp_path / "s.duckdb"
    with Store.open(path) as store:
        pair(store, CHAMPION, SHADOW)
        put(store, "predictions", "3", [0.3], ids=["only-\x1b[2Jchampion"])
        put_labels(store, {f"r{i}": float(i % 2) for i in range(6)})
    return str(path)


def shadow(capsys, store_path: str, *args: str) -> tuple[int, str, str]:
    try:
        code = main(["canary", "shadow", "fraud", "--store", store_path, *args], clock=lambda: NOW)
    except SystemExit as exc:
        code = int(exc.code or 0)
    out, err = capsys.readouterr()
    return code, out, err


def test_table(capsys, store_path):
    code, out, err = shadow(capsys, store_path, "--champion", "3", "--shadow", "4")
    assert code == 0, err
    lines = out.splitlines()
    assert lines[0] == "fraud: shadow 4 against champion 3, as of 2026-11-26 12:00:00 UTC"
    assert lines[1] == (
        "window 2026-11-26 11:00:00..2026-11-26 12:00:00: 8 requests scored by both; "
        "1 by champion 3 only (only-\\x1b[2Jchampion); 0 by shadow 4 only"
    )
    assert lines[2] == (
        "agreement: 62.50% (5 of 8) decide the same class at threshold 0.5; "
        "positive by champion alone 1, by shadow alone 2"
    )
    assert lines[3] == (
        "score difference (shadow − champion) over 8 pairs: mean -0.04125, std 0.2289; "
        "p1 -0.565, p5 -0.425, p50 +0.01, p95 +0.165, p99 +0.193; max |diff| 0.6"
    )
    assert lines[4].startswith("output drift (ks, 8 scores a side): score ") and lines[4].endswith(
        ": no drift"
    )
    assert lines[5] == "performance on 6 labelled requests (2 not labelled yet):"
    assert lines[6].split() == ["ROLE", "VERSION", "N", "ACCURACY", "PRECISION", "RECALL", "F1", "ROC", "AUC"]
    assert lines[7].split()[:4] == ["champion", "3", "6", "0.333333"]  # r0, r3 of r0…r5 right
    assert lines[8].split()[:3] == ["shadow", "4", "6"]


def test_json_is_the_report(capsys, store_path):
    code, out, _ = shadow(capsys, store_path, "--champion", "3", "--shadow", "4", "--format", "json")
    assert code == 0
    with Store.open_read(store_path) as store:
        expected = shadow_report(store, "fraud", "3", "4", NOW).as_dict()
    assert json.loads(out) == json.loads(json.dumps(expected))
    assert json.loads(out)["coverage"]["champion_only_ids"] == [
        "only-\x1b[2Jchampion"
    ]  # exact, as JSON escapes
    assert "\x1b" not in out


def test_window_at_and_threshold(capsys, store_path):
    code, out, _ = shadow(
        capsys, store_path, "--champion", "3", "--shadow", "4", "--at", "-20m", "--window", "15m",
        "--threshold", "0.55", "--format", "json",
    )  # fmt: skip
    report = json.loads(out)
    assert code == 0
    assert report["window"] == ["2026-11-26T11:25:00Z", "2026-11-26T11:40:00Z"]
    assert report["agreement"]["rate"] == 0.75 and report["threshold"] == 0.55
    assert report["performance"]["labelled"] == 6
    code, out, _ = shadow(
        capsys, store_path, "--champion", "3", "--shadow", "4", "--at", "2026-11-26T11:29:00Z"
    )
    assert "performance: no labels yet (0 labelled, 0 waiting)" in out
    assert "agreement: no data (no scored pair)" in out


def test_record_writes_the_series_once(capsys, store_path):
    args = ("--champion", "3", "--shadow", "4", "--record")
    assert shadow(capsys, store_path, *args)[0] == 0
    with Store.open_read(store_path) as store:
        first = store.count("samples")
        _, names = store.query("SELECT DISTINCT name FROM series ORDER BY 1")
    assert first > 0
    assert ("oncall_shadow_agreement",) in names and ("oncall_shadow_output_drift",) in names
    assert shadow(capsys, store_path, *args)[0] == 0
    with Store.open_read(store_path) as store:
        assert store.count("samples") == first


def test_drifting_scores_exit_1(capsys, tmp_path):
    path = tmp_path / "d.duckdb"
    rng = np.random.default_rng(3)
    with Store.open(path) as store:
        champion = rng.uniform(0, 0.5, 300)
        pair(store, list(champion), list(champion + 0.4), ids=[f"q{i}" for i in range(300)])
    code, out, _ = shadow(capsys, str(path), "--champion", "3", "--shadow", "4")
    assert code == 1 and ": DRIFT" in out


def test_versions_without_pairs_name_the_versions_seen(capsys, store_path):
    code, out, _ = shadow(capsys, store_path, "--champion", "3", "--shadow", "champion")
    assert code == 0
    assert "0 requests scored by both" in out
    assert "versions of fraud with records in this window: 3 (9 records), 4 (8 records)" in out


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("--champion", "3", "--shadow", "3"), "champion and shadow are the same version ('3')"),
        (
            ("--champion", "3", "--shadow", "4", "--window", "1x"),
            "--window: Value error, not a duration: '1x'",
        ),
        (
            ("--champion", "3", "--shadow", "4", "--window", "0s"),
            "--window: Value error, window is a positive duration",
        ),
        (
            ("--champion", "3", "--shadow", "4", "--threshold", "nan"),
            "--threshold: Input should be a finite number",
        ),
        (("--champion", "3", "--shadow", "4", "--drift-method", "nope"), "unknown drift test 'nope'"),
        (("--champion", "3", "--shadow", "4", "--at", "yesterday"), "--at: not a time: 'yesterday'"),
        (("--champion", "3"), "the following arguments are required: --shadow"),
    ],
)
def test_usage_errors_are_one_line_exit_2(capsys, store_path, args, message):
    code, out, err = shadow(capsys, store_path, *args)
    assert code == 2 and out == ""
    assert message in err and "Traceback" not in err


def test_shadow_joins_an_existing_canary_group():
    parser = argparse.ArgumentParser(prog="oncall")
    sub = parser.add_subparsers()
    group = sub.add_parser("canary")  # as console.cli.commands.canary registers it, first by name
    commands = group.add_subparsers()
    commands.add_parser("run").set_defaults(func="run")
    canary_shadow.register(sub)
    assert parser.parse_args(["canary", "run"]).func == "run"
    args = parser.parse_args(["canary", "shadow", "m", "--champion", "1", "--shadow", "2"])
    assert args.func is canary_shadow.run and args.window == "1h"


def test_the_window_option_counts_back_from_at(capsys, store_path):
    _, out, _ = shadow(
        capsys, store_path, "--champion", "3", "--shadow", "4", "--window", "2h", "--format", "json"
    )
    start = json.loads(out)["window"][0]
    assert start == (NOW - timedelta(hours=2)).isoformat() + "Z"


def test_from_a_workspaces_predictions_source_to_the_report(tmp_path):
    from tests.conftest import run_oncall

    rng = np.random.default_rng(9)
    lines = []
    for i in range(40):
        score = float(rng.uniform())
        stamp = f"2026-11-26T11:{i + 10:02d}:00Z"
        base = {"id": f"q{i}", "ts": stamp, "model": "fraud", "amount": i}
        lines.append({**base, "version": 3, "prediction": score, "label": int(i % 3 == 0)})
        if i % 10:  # every tenth request the shadow did not score
            lines.append({**base, "version": 4, "prediction": min(1.0, score + 0.1)})
    (tmp_path / "p.jsonl").write_text("".join(json.dumps(r) + "\n" for r in lines))
    (tmp_path / "oncall.yaml").write_text(
        "store: store.duckdb\nsources:\n"
        "  - {name: preds, kind: predictions, path: p.jsonl, shadow_versions: [4]}\n"
    )
    env = {"ONCALL_NOW": "2026-11-26T12:00:00Z"}
    collected = run_oncall("-w", str(tmp_path), "collect", "--once", env=env)
    assert collected.returncode == 0, collected.stderr
    shown = run_oncall(
        "-w", str(tmp_path), "canary", "shadow", "fraud", "--champion", "3", "--shadow", "4",
        "--record", "--format", "json", env=env,
    )  # fmt: skip
    assert shown.returncode == 0, shown.stderr
    report = json.loads(shown.stdout)
    assert report["coverage"]["paired"] == 36 and report["coverage"]["champion_only"] == 4
    assert report["coverage"]["champion_only_ids"] == ["q0", "q10", "q20", "q30"]
    assert report["score_diff"]["max_abs"] == pytest.approx(0.1)
    assert report["performance"]["labelled"] == 36 and report["performance"]["status"] == "ok"
    with Store.open_read(tmp_path / "store.duckdb") as store:
        _, rows = store.query(
            "SELECT p.value FROM samples p JOIN series s ON s.id = p.series_id "
            "WHERE s.name = 'oncall_shadow_unpaired' AND s.labels LIKE '%\"side\":\"champion\"%'"
        )
    assert rows == [(4.0,)]
