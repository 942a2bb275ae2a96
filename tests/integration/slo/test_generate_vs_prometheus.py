"""`oncall slo generate`'s rules in a real Prometheus give the alert instants `oncall slo backtest` gives.

The rules are checked by `promtool check rules`, their recording rules are backfilled with
`promtool tsdb create-blocks-from rules` over raw data backfilled from OpenMetrics, and a
Prometheus is started over both with the rule file loaded. Every recorded error ratio and
every instant each generated alert's expression holds, over a day at a one-minute step, are
compared with the backtest of the same data.

Prometheus evaluates a rule group at a fixed offset inside its interval (a hash of the
group's name and file), and the backfill does the same. The console and Prometheus 2.x
agree exactly when a window has a sample at both of its ends (docs/slo.md, "The window
rule"), so the data is written as one-minute counters with the same value repeated at each
SLO group's offset, and each SLO is backtested on its group's grid. The offsets come from a
first, short backfill of the same rule file over the one-minute data.
"""

from __future__ import annotations

import contextlib
import io
import json
import math
import os
import re
import shutil
import stat
import subprocess
import time
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

import httpx
import pytest
import yaml

from console.config.durations import format_duration
from console.slo.conditions import slo_alert_conditions
from console.slo.generate import sli_windows, sloth_id
from console.slo.model import SLO, load_slo_file
from tests.servers import (
    Server,
    backfill,
    free_port,
    require_binary,
    start_prometheus,
    start_server,
)
from tests.servers import prometheus_query_range as query_range

from .conftest import DAYS, START, oncall, write_openmetrics

pytestmark = pytest.mark.integration

FROM = START + timedelta(days=3)  # every window has 3 days of history behind it
TO = START + timedelta(days=DAYS) - timedelta(minutes=1)
STEP = timedelta(minutes=1)
EPOCH = datetime(1970, 1, 1)

SLO_FILE = """\
slos:
  - name: checkout-availability       # bad / total, one SLI per instance
    service: checkout
    labels: {team: shop}
    objective: 99.5
    sli:
      ratio:
        bad: 'http_requests_total{code=~"5.."}'
        total: 'http_requests_total'
        by: [instance]
    alerting:
      labels: {owner: payments}
      page: {labels: {route: pager}}
      annotations: {runbook: "https://wiki/{{ checkout }}"}
  - name: checkout-latency            # latency over both instances
    service: checkout
    objective: 99
    sli:
      latency:
        buckets: 'http_request_duration_seconds_bucket'
        threshold: 0.25
  - name: checkout-success            # good / total; a 5m window never has 1000 requests
    objective: 99.5
    min_events: 1000
    sli:
      ratio:
        good: 'http_requests_total{code="200"}'
        total: 'http_requests_total'
        by: [instance]
  - name: checkout-unavailable        # no series has code 503: 0 errors, not no ratio
    objective: 99.9
    sli:
      ratio:
        bad: 'http_requests_total{code="503"}'
        total: 'http_requests_total'
        by: [instance]
  - name: checkout-latency-weekly     # a 7d SLO on Sloth's 7d windows: 13.44/3.5/1.4/0.98
    objective: 99.5
    window: 7d
    alert_windows: sloth-7d
    sli:
      latency:
        buckets: 'http_request_duration_seconds_bucket'
        threshold: 0.25
        by: [instance]
"""


@dataclass
class Generated:
    prometheus: Server
    workspace: Path
    rules_file: Path
    rules: dict
    slos: dict[str, SLO]
    offsets: dict[str, int]  # sloth_id -> ms after the minute its SLI group is evaluated at
    promtool_check: subprocess.CompletedProcess


def _epoch(moment: datetime) -> float:
    return (moment - EPOCH).total_seconds()


def _moment(epoch: float) -> datetime:
    return EPOCH + timedelta(seconds=epoch)


def _sli_offsets(tsdb_with_rule_blocks: Path) -> dict[str, int]:
    """Per SLO (sloth_id), when inside a minute its recorded error ratios are stamped (ms)."""
    (tsdb_with_rule_blocks / "wal").mkdir(exist_ok=True)  # `tsdb dump` opens a full TSDB
    dump = subprocess.run(
        [require_binary("promtool"), "tsdb", "dump", str(tsdb_with_rule_blocks)],
        check=True,
        capture_output=True,
        text=True,
        timeout=120,
    ).stdout
    offsets: dict[str, set[int]] = {}
    for line in dump.splitlines():
        if "slo:sli_error:ratio_rate" in line:
            ident = re.search(r'sloth_id="([^"]*)"', line)
            assert ident, line
            offsets.setdefault(ident[1], set()).add(int(line.rsplit(" ", 1)[1]) % 60_000)
    assert all(len(found) == 1 for found in offsets.values()), offsets
    return {ident: found.pop() for ident, found in offsets.items()}


def _backfill_rules(rules: Path, prometheus: Server, start: datetime, end: datetime, out: Path) -> Path:
    subprocess.run(
        [
            require_binary("promtool"),
            "tsdb",
            "create-blocks-from",
            "rules",
            f"--start={int(_epoch(start))}",
            f"--end={int(_epoch(end))}",
            f"--url={prometheus.url}",
            f"--output-dir={out}",
            "--eval-interval=60s",
            str(rules),
        ],
        check=True,
        capture_output=True,
        timeout=900,
    )
    return out


def _aligned(minute_data: Path, out: Path, offsets: set[int]) -> Path:
    """The one-minute samples again at each offset (ms) after their minute, with the same value."""
    extra = sorted(o for o in offsets if o)
    with minute_data.open() as source, out.open("w") as target:
        for line in source:
            target.write(line)
            if line.startswith("#"):
                continue
            head, stamp = line.rstrip("\n").rsplit(" ", 1)
            seconds = int(stamp)
            for offset in extra:
                target.write(f"{head} {seconds + offset // 1000}.{offset % 1000:03d}\n")
    return out


def _start_with_rules(tsdb: Path, workdir: Path, rules: Path) -> Server:
    """A real Prometheus over `tsdb` with the generated rule file loaded (evaluated every second)."""
    config = workdir / "prometheus-rules.yml"
    config.write_text(
        "global: {scrape_interval: 1m, evaluation_interval: 1s}\n"
        f"rule_files: [{json.dumps(str(rules))}]\nscrape_configs: []\n"
    )
    port = free_port()
    return start_server(
        "prometheus-rules",
        [
            require_binary("prometheus"),
            f"--config.file={config}",
            f"--storage.tsdb.path={tsdb}",
            "--storage.tsdb.retention.time=100y",
            f"--web.listen-address=127.0.0.1:{port}",
        ],
        port=port,
        workdir=workdir / "run-rules",
        ready_path="/-/ready",
    )


@pytest.fixture(scope="module")
def generated(tmp_path_factory: pytest.TempPathFactory):
    root = tmp_path_factory.mktemp("slo-generate")
    workspace = root / "ws"
    workspace.mkdir()
    (workspace / "oncall.yaml").write_text("store: oncall.duckdb\nslos: [slos.yaml]\n")
    (workspace / "slos.yaml").write_text(SLO_FILE)
    rules_file = root / "rules.yaml"
    assert oncall("-w", str(workspace), "slo", "generate", "--all", "--out", str(rules_file)) == 0
    check = subprocess.run(
        [require_binary("promtool"), "check", "rules", str(rules_file)], capture_output=True, text=True
    )
    # Where each SLO's SLI group is evaluated inside a minute: a short backfill over minute data.
    minute_data = root / "minute.om"
    write_openmetrics(minute_data)
    probe = start_prometheus(backfill(minute_data, root / "tsdb-minute"), root / "minute")
    try:
        blocks = _backfill_rules(rules_file, probe, FROM, FROM + timedelta(minutes=10), root / "probe")
        offsets = _sli_offsets(blocks)
    finally:
        probe.stop()
    shutil.rmtree(root / "tsdb-minute")
    slos = {s.name: s for s in load_slo_file(workspace / "slos.yaml")}
    unrecorded = sorted(name for name, slo in slos.items() if sloth_id(slo) not in offsets)
    assert unrecorded == [], f"Prometheus recorded no error ratio for {unrecorded}"
    data = _aligned(minute_data, root / "aligned.om", set(offsets.values()))
    tsdb = backfill(data, root / "tsdb")
    assert oncall("-w", str(workspace), "import", str(data)) == 0
    raw = start_prometheus(tsdb, root / "raw")
    try:
        # From a little earlier: every group (each at its own offset) has a sample before the grid.
        rule_blocks = _backfill_rules(rules_file, raw, FROM - 5 * STEP, TO + STEP, root / "rule-blocks")
    finally:
        raw.stop()
    for block in rule_blocks.iterdir():
        if (block / "meta.json").exists():
            shutil.move(str(block), str(tsdb / block.name))
    server = _start_with_rules(tsdb, root, rules_file)
    try:
        yield Generated(
            server,
            workspace,
            rules_file,
            yaml.safe_load(rules_file.read_text()),
            slos,
            {name: offsets[sloth_id(slo)] for name, slo in slos.items()},
            check,
        )
    finally:
        server.stop()


def _grid(g: Generated, slo: str) -> tuple[datetime, datetime]:
    offset = timedelta(milliseconds=g.offsets[slo])
    return FROM + offset, TO + offset


@pytest.fixture(scope="module")
def backtests(generated):
    """`oncall slo backtest --format json` of each SLO on its rule group's grid, by (slo, group)."""
    found = {}
    for name in generated.slos:
        start, end = _grid(generated, name)
        out = io.StringIO()
        with contextlib.redirect_stdout(out):
            code = oncall(
                "-w",
                str(generated.workspace),
                "slo",
                "backtest",
                name,
                "--from",
                start.isoformat() + "Z",
                "--to",
                end.isoformat() + "Z",
                "--step",
                "1m",
                "--format",
                "json",
            )
        assert code == 0
        for report in json.loads(out.getvalue()):
            found[(name, tuple(sorted(report["group"].items())))] = report
    return found


def _key(slo: SLO, metric: dict[str, str]) -> tuple:
    return slo.name, tuple(sorted((k, metric.get(k, "")) for k in sorted(set(slo.by))))


def _rules_of(g: Generated, kind: str, slo: SLO) -> list[dict]:
    return [
        rule
        for group in g.rules["groups"]
        if group["name"].endswith("-" + sloth_id(slo))
        for rule in group["rules"]
        if kind in rule
    ]


def _instants(report: dict, interval_lists: list[list[dict]]) -> set[str]:
    held = set()
    for intervals in interval_lists:
        for interval in intervals:
            at = datetime.fromisoformat(interval["from"].rstrip("Z"))
            while at <= datetime.fromisoformat(interval["to"].rstrip("Z")):
                held.add(at.isoformat(timespec="milliseconds"))
                at += STEP
    return held


_BLOCK_MS = 2 * 3600 * 1000  # promtool's rules backfill writes 2h blocks


def _backfilled(at: str) -> bool:
    """Whether `promtool tsdb create-blocks-from rules` evaluated the rules at `at`: it queries
    each 2h block up to the block's last whole second (cmd/promtool/rules.go, `end :=
    time.Unix(endOfBlock/1000, 0)`), so an evaluation inside a block's final second, as a group
    offset of 59.178 s puts one at 03:59:59.178, is never recorded and the series holds the
    previous value there.  Those instants say nothing about the rules and are not compared."""
    ms = round(_epoch(datetime.fromisoformat(at)) * 1000)
    return ms % _BLOCK_MS < _BLOCK_MS - 1000


def _iso(epoch: float) -> str:
    return _moment(epoch).isoformat(timespec="milliseconds")


def _norm(text: str) -> str:
    """A backtest's ISO time in the form `_iso` writes."""
    return datetime.fromisoformat(text.rstrip("Z")).isoformat(timespec="milliseconds")


def test_promtool_accepts_the_rules(generated):
    assert generated.promtool_check.returncode == 0, generated.promtool_check.stdout
    count = sum(len(group["rules"]) for group in generated.rules["groups"])
    assert f"SUCCESS: {count} rules found" in generated.promtool_check.stdout
    assert stat.S_IMODE(os.stat(generated.rules_file).st_mode) == 0o600


def test_prometheus_loads_and_evaluates_every_generated_rule(generated):
    deadline = time.monotonic() + 30
    while True:
        groups = httpx.get(generated.prometheus.url + "/api/v1/rules", timeout=10).json()["data"]["groups"]
        rules = [rule for group in groups for rule in group["rules"]]
        if all(rule["health"] != "unknown" for rule in rules) or time.monotonic() > deadline:
            break
        time.sleep(0.5)
    assert sorted(g["name"] for g in groups) == sorted(g["name"] for g in generated.rules["groups"])
    assert [(r["name"], r["health"], r.get("lastError")) for r in rules if r["health"] != "ok"] == []
    alerts = {(r["labels"]["slo"], r["labels"]["window"]): r for r in rules if r["type"] == "alerting"}
    expected = [c for slo in generated.slos.values() for c in slo_alert_conditions(slo)]
    assert len(alerts) == len(expected) == 4 * len(generated.slos)
    for cond in expected:
        rule = alerts[(cond.slo, cond.labels["window"])]
        assert rule["name"] == "SLOErrorBudgetBurn"
        assert rule["labels"] == {**cond.labels, "sloth_severity": cond.severity}
        assert rule["annotations"].keys() == cond.annotations.keys()
    runbook = alerts[("checkout-availability", "1h/5m")]["annotations"]["runbook"]
    assert "{{" in runbook  # a literal in the file, printed as it is (as the console shows it)


@pytest.mark.parametrize(
    "name",
    [
        "checkout-availability",
        "checkout-latency",
        "checkout-success",
        "checkout-unavailable",
        "checkout-latency-weekly",
    ],
)
def test_recorded_error_ratios_equal_the_backtest(generated, backtests, name):
    slo = generated.slos[name]
    start, end = _grid(generated, name)
    compared = missing = 0
    recorded_values: set[float] = set()
    for window in sli_windows(slo):
        w = format_duration(window)
        query = f'slo:sli_error:ratio_rate{w}{{sloth_id="{sloth_id(slo)}"}}'
        theirs = {
            _key(slo, s["metric"]): {_iso(e): float(v) for e, v in s["values"]}
            for s in query_range(generated.prometheus, query, start, end, STEP)
        }
        recorded_values |= {v for series in theirs.values() for v in series.values()}
        for key, report in backtests.items():
            if key[0] != name:
                continue
            values = dict(zip(map(_norm, report["times"]), report["windows"][w]["error_ratio"]))
            recorded = theirs.get(key, {})
            for at, mine in values.items():
                if not _backfilled(at):
                    continue
                theirs_value = recorded.get(at)
                if mine is None:
                    assert theirs_value is None or math.isnan(theirs_value), (name, key, w, at)
                    missing += 1
                    continue
                assert theirs_value is not None, (name, key, w, at)
                assert math.isclose(mine, theirs_value, rel_tol=1e-9, abs_tol=1e-15), (key, w, at)
                compared += 1
    assert compared > 0
    if name == "checkout-unavailable":  # every ratio is there, and 0
        assert recorded_values == {0.0}
    # The SLO with min_events: no 5m window has enough requests, so none has a ratio.
    assert (missing > 0) == (name == "checkout-success")


def test_generated_alerts_fire_at_the_backtest_instants(generated, backtests):
    fired: dict[tuple[str, str], int] = {}
    for name, slo in generated.slos.items():
        start, end = _grid(generated, name)
        conditions = slo_alert_conditions(slo)
        alerts = _rules_of(generated, "alert", slo)
        assert len(alerts) == len(conditions)
        per_severity: dict[tuple, dict[str, set[str]]] = {}
        for rule, cond in zip(alerts, conditions):
            assert rule["labels"]["window"] == cond.labels["window"]
            theirs = {
                _key(slo, s["metric"]): {_iso(e) for e, _ in s["values"] if _backfilled(_iso(e))}
                for s in query_range(generated.prometheus, rule["expr"], start, end, STEP)
            }
            for key, report in backtests.items():
                if key[0] != name:
                    continue
                (mine,) = [c for c in report["conditions"] if c["name"] == cond.name]
                held = {at for at in _instants(report, [mine["intervals"]]) if _backfilled(at)}
                assert theirs.get(key, set()) == held, (cond.name, key)
                union = per_severity.setdefault(key, {}).setdefault(cond.severity, set())
                union |= theirs.get(key, set())
        for key, report in backtests.items():
            if key[0] != name:
                continue
            for severity in ("page", "ticket"):
                mine = {
                    at
                    for at in _instants(
                        report, [c["intervals"] for c in report["conditions"] if c["severity"] == severity]
                    )
                    if _backfilled(at)
                }
                assert per_severity[key][severity] == mine, (key, severity)
                fired[(name, severity)] = fired.get((name, severity), 0) + len(mine)
    # The error burst and the slow spell page and ticket every SLO with errors (checkout-success
    # on 6h/30m only: its 5m windows are under min_events).
    quiet = [key for key, count in fired.items() if not count]
    assert quiet == [("checkout-unavailable", "page"), ("checkout-unavailable", "ticket")]


def test_min_events_keeps_the_short_page_condition_quiet(generated, backtests):
    slo = generated.slos["checkout-success"]
    start, end = _grid(generated, slo.name)
    (quick,) = [r for r in _rules_of(generated, "alert", slo) if r["labels"]["window"] == "1h/5m"]
    assert query_range(generated.prometheus, quick["expr"], start, end, STEP) == []
    (slow,) = [r for r in _rules_of(generated, "alert", slo) if r["labels"]["window"] == "6h/30m"]
    assert query_range(generated.prometheus, slow["expr"], start, end, STEP) != []


def test_metadata_series_equal_the_backtest_burn(generated, backtests):
    slo = generated.slos["checkout-availability"]
    start, end = _grid(generated, slo.name)
    meta = {r["record"]: r for r in _rules_of(generated, "record", slo)}
    objective = query_range(generated.prometheus, "slo:objective:ratio", start, end, STEP)
    assert {float(v) for s in objective for _, v in s["values"]} >= {slo.objective / 100}
    # The current burn rate (its expression over the recorded 5m ratio) is the backtest's 5m burn.
    burn = query_range(generated.prometheus, meta["slo:current_burn_rate:ratio"]["expr"], start, end, STEP)
    assert {s["metric"]["instance"] for s in burn} == {"a", "b"}
    for series in burn:
        report = backtests[_key(slo, series["metric"])]
        mine = {
            at: burn
            for at, burn in zip(map(_norm, report["times"]), report["windows"]["5m"]["burn"])
            if _backfilled(at)
        }
        values = [(epoch, value) for epoch, value in series["values"] if _backfilled(_iso(epoch))]
        assert len(values) == len(mine)
        for epoch, value in values:
            assert math.isclose(mine[_iso(epoch)], float(value), rel_tol=1e-9), _iso(epoch)
