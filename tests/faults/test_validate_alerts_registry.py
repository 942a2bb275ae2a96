"""Alertmanager alerts whose startsAt is 1e25, the year 5138, Go's zero time or 1969, and an
MLflow server whose timestamps are 1e25 ms or text: the alerts are kept (active since they
were first seen) with the bad startsAt counted by reason, the registry's alias moves are
recorded, `up` is written, and `collect --once` shows no traceback."""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path

from console.store import Store
from tests.conftest import run_oncall
from tests.local_http import serve

NOW = datetime(2026, 11, 26, 12, 0)


def alert(fingerprint: str, starts_at: str) -> dict:
    return {
        "fingerprint": fingerprint,
        "labels": {"alertname": f"A{fingerprint}"},
        "annotations": {},
        "startsAt": starts_at,
        "status": {"state": "active"},
    }


ALERTS = [
    alert("1", "2026-11-26T11:00:00Z"),
    alert("2", "5138-01-01T00:00:00Z"),
    alert("3", "1e25"),
    alert("4", "0001-01-01T00:00:00Z"),
    alert("5", "1969-12-31T23:59:59Z"),
    alert("6", "2026-11-26T15:00:00+02:00"),
    alert("7", "2026-11-26T12:30:00+02:00"),
]

MODELS = {
    "registered_models": [
        {
            "name": "fraud",
            "aliases": [{"alias": "champion", "version": "3"}],
            "last_updated_timestamp": 1e25,
            "latest_versions": [{"version": "3"}],
        },
        {
            "name": "churn",
            "aliases": [{"alias": "champion", "version": "1"}],
            "last_updated_timestamp": "yesterday",
            "latest_versions": [{"version": "1"}],
        },
    ]
}


def route(path: str) -> tuple[int, bytes, str]:
    if path.startswith("/api/v2/alerts"):
        return 200, json.dumps(ALERTS).encode(), "application/json"
    if "registered-models/search" in path:
        return 200, json.dumps(MODELS).encode(), "application/json"
    return 404, b"not here", "text/plain"


def test_alerts_are_kept_with_bad_starts_counted_and_the_registry_polls(tmp_path: Path) -> None:
    with serve(route) as url:
        (tmp_path / "oncall.yaml").write_text(
            "store: store.duckdb\nsources:\n"
            f"  - {{name: am, kind: alertmanager, url: '{url}'}}\n"
            f"  - {{name: models, kind: registry, adapter: mlflow, url: '{url}'}}\n"
            "retention: {alert_history: 30}\n"
        )
        env = {"ONCALL_NOW": "2026-11-26T12:00:00Z"}
        run = run_oncall("-w", str(tmp_path), "collect", "--once", env=env)
        assert "Traceback" not in run.stdout + run.stderr and run.stderr == ""
        assert run.returncode == 0, run.stdout
        assert run.stdout.splitlines()[3:] == [
            "am: 2 refused: startsAt 1h to 3111y in the future (limit 10m)",
            "am: 2 refused: startsAt 57y to 2026y in the past (limit 30d)",
            "am: 1 refused: startsAt does not parse",
        ]
        later = run_oncall(
            "-w",
            str(tmp_path),
            "collect",
            "--once",
            "--format",
            "json",
            env={"ONCALL_NOW": "2026-11-26T12:05:00Z"},
        )
        assert later.returncode == 0, later.stdout

    with Store.open_read(tmp_path / "store.duckdb") as store:
        alerts = dict(store.query("SELECT fingerprint, active_since FROM alerts")[1])
        moves = store.query("SELECT model, version, ts FROM changes ORDER BY model")[1]
        up = store.query(
            "SELECT s.labels, x.value FROM samples x JOIN series s "
            "ON s.id = x.series_id WHERE s.name = 'oncall_collector_up'"
        )[1]
    # Every alert is mirrored; one with a startsAt out of the window is active since first seen,
    # and stays so on the next run.
    assert alerts == {
        "1": datetime(2026, 11, 26, 11),
        "2": NOW,
        "3": NOW,
        "4": NOW,
        "5": NOW,
        "6": NOW,
        "7": datetime(2026, 11, 26, 10, 30),
    }
    assert moves == [("churn", "1", NOW), ("fraud", "3", NOW)]
    assert sorted((json.loads(labels)["collector"], value) for labels, value in up) == [
        ("am", 1.0),
        ("am", 1.0),
        ("models", 1.0),
        ("models", 1.0),
    ]
