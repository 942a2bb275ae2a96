"""`oncall alerts` and the console's alert list are one list (issue #16): same alerts, same
dedup, same silence and inhibition status, same order."""

from __future__ import annotations

import json
from datetime import datetime, timedelta

from console.rules.loading import load_rule_file
from console.screens.overview import alert_rows
from console.store import Store
from console.store.ingest import canonical_labels

NOW = datetime(2026, 3, 1, 12, 0)
ENV = {"ONCALL_NOW": "2026-03-01T12:00:00Z"}
RULES = (
    "groups:\n  - name: g\n    rules:\n"
    "      - alert: Down\n        expr: SELECT 'api' AS service, 1.0 AS value\n"
    "        labels: {severity: critical}\n"
    "      - alert: Errors\n        expr: SELECT 'web' AS service, 2.0 AS value\n"
    "        labels: {severity: critical}\n"
    "      - alert: Slow\n        expr: SELECT 'api' AS service, 3.0 AS value\n"
    "        labels: {severity: warning}\n"
    "      - alert: Later\n        expr: SELECT 'api' AS service, 4.0 AS value\n"
    "        for: 10m\n"
    "inhibit_rules:\n"
    "  - source_matchers: ['severity=\"critical\"']\n"
    "    target_matchers: ['severity=\"warning\"']\n"
    "    equal: [service]\n"
)


def _insert(store: Store, fingerprint: str, source: str, labels: dict, state: str, **columns) -> None:
    names = ["fingerprint", "source", "name", "labels", "state", *columns]
    values = [fingerprint, source, labels["alertname"], canonical_labels(labels), state, *columns.values()]
    with store.transaction() as cur:
        cur.execute(
            f"INSERT INTO alerts ({', '.join(names)}) VALUES ({', '.join('?' for _ in names)})", values
        )


def _iso(value: datetime | None) -> str | None:
    return None if value is None else value.isoformat() + "Z"


def test_the_cli_lists_exactly_what_the_console_shows(tmp_path, oncall) -> None:
    (tmp_path / "rules").mkdir()
    (tmp_path / "rules" / "r.yaml").write_text(RULES)
    (tmp_path / "oncall.yaml").write_text("rules: [rules/*.yaml]\nallow_actions: true\n")
    assert oncall("--workspace", str(tmp_path), "rules", "eval", env=ENV).returncode == 0
    # silenced after the engine's cycle: muted already, in both
    silenced = oncall(
        "--workspace", str(tmp_path), "alerts", "silence", "alertname=Errors", "--comment", "known", env=ENV
    )
    assert silenced.returncode == 0, silenced.stderr
    store = Store.open(tmp_path / "oncall.duckdb")
    try:
        gone = NOW - timedelta(minutes=5)
        _insert(
            store,
            "resolved1",
            "rule",
            {"alertname": "Gone", "service": "db"},
            "resolved",
            active_since=NOW - timedelta(minutes=30),
            resolved_at=gone,
        )
        _insert(
            store, "inactive1", "rule", {"alertname": "Quiet", "service": "db"}, "inactive", resolved_at=gone
        )
        # Down, pushed to Alertmanager and collected back: listed once
        _insert(
            store,
            "am-echo",
            "alertmanager",
            {"alertname": "Down", "service": "api", "severity": "critical"},
            "firing",
            active_since=NOW,
        )
        _insert(
            store,
            "am-own",
            "alertmanager",
            {"alertname": "Upstream", "team": "data"},
            "suppressed",
            active_since=NOW - timedelta(hours=1),
            silenced_by=json.dumps(["am-silence"]),
        )
    finally:
        store.close()

    listed = oncall("--workspace", str(tmp_path), "alerts", "--format", "json", env=ENV)
    assert listed.returncode == 0, listed.stderr
    cli = [
        (
            a["fingerprint"],
            a["state"],
            a["name"],
            a["since"],
            a["labels"],
            a["value"],
            a["source"],
            bool(a["silenced"]),
            bool(a["inhibited"]),
        )
        for a in json.loads(listed.stdout)
    ]
    inhibit = load_rule_file(tmp_path / "rules" / "r.yaml").inhibit_rules
    with Store.open_read(tmp_path / "oncall.duckdb") as store:
        rows = alert_rows(store, now=NOW, inhibit_rules=inhibit)
        as_saved = alert_rows(store, now=NOW)  # inhibition as the engine saved it: the same here
    console = [
        (
            r.fingerprint,
            r.state,
            r.name,
            _iso(r.since),
            {k: v for k, v in r.labels.items() if k != "alertname"},
            r.value,
            r.source,
            r.silenced,
            r.inhibited,
        )
        for r in rows
    ]
    assert cli == console
    assert [(r.fingerprint, r.state, r.silenced, r.inhibited) for r in as_saved] == [
        (r.fingerprint, r.state, r.silenced, r.inhibited) for r in rows
    ]
    by_name = {row[2]: row for row in cli}
    assert [row[2] for row in cli].count("Down") == 1 and "Quiet" not in by_name
    assert by_name["Errors"][1] == by_name["Slow"][1] == by_name["Upstream"][1] == "suppressed"
    assert by_name["Gone"][3] == _iso(gone) and by_name["Later"][1] == "pending"


def test_the_alerts_view_reads_silences_at_the_sessions_clock(tmp_path, oncall) -> None:
    """A console whose clock is not the wall clock (a replay, the demo) mutes what the CLI mutes."""
    from types import SimpleNamespace

    from console.tui.views.alerts import AlertsView

    (tmp_path / "rules").mkdir()
    (tmp_path / "rules" / "r.yaml").write_text(RULES)
    (tmp_path / "oncall.yaml").write_text("rules: [rules/*.yaml]\nallow_actions: true\n")
    assert oncall("--workspace", str(tmp_path), "rules", "eval", env=ENV).returncode == 0
    # made after the engine's cycle, for the default two hours from NOW: long over by the wall clock
    silenced = oncall(
        "--workspace", str(tmp_path), "alerts", "silence", "alertname=Down", "--comment", "known", env=ENV
    )
    assert silenced.returncode == 0, silenced.stderr
    inhibit = load_rule_file(tmp_path / "rules" / "r.yaml").inhibit_rules
    with Store.open_read(tmp_path / "oncall.duckdb") as store:
        session = SimpleNamespace(
            store=store, clock=lambda: NOW, config=SimpleNamespace(inhibit_rules=inhibit)
        )
        rows = {r.name: r for r in AlertsView().load(session)}
    assert rows["Down"].silenced and rows["Down"].state == "suppressed"
