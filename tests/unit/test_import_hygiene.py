"""Headless modules never import Textual or Rich (checked in a fresh interpreter)."""

from __future__ import annotations

import json
import os
import pkgutil
import subprocess
import sys
from pathlib import Path

import collectors
import console

REPO = Path(__file__).resolve().parents[2]
UI_PREFIXES = ("console.tui", "console.cli", "console.__main__")


def headless_modules() -> list[str]:
    names = []
    for package in (console, collectors):
        for info in pkgutil.walk_packages(package.__path__, prefix=package.__name__ + "."):
            if not info.name.startswith(UI_PREFIXES):
                names.append(info.name)
    return sorted(names)


def test_there_are_headless_modules_to_check() -> None:
    modules = headless_modules()
    assert {"console.store", "console.config.workspace", "console.store.importer", "collectors.base"} <= set(
        modules
    )


def test_headless_modules_do_not_import_textual() -> None:
    modules = headless_modules()
    code = (
        "import importlib, sys\n"
        f"for name in {modules!r}:\n"
        "    importlib.import_module(name)\n"
        "    bad = sorted(m for m in ('textual', 'rich') if m in sys.modules)\n"
        "    if bad:\n"
        "        print(name, 'imports', ','.join(bad)); sys.exit(1)\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO)
    assert result.returncode == 0, result.stdout + result.stderr


def test_the_consoles_first_frame_needs_no_data_science_libraries(tmp_path) -> None:
    """Loading the demo workspace (which validates its collectors' options) and reading the
    Overview import neither numpy, pyarrow, pandas nor httpx: they cost ~0.5 s of start-up."""
    from datetime import datetime

    from console.cli.commands.demo import prepare

    prepare(tmp_path / "demo", now=datetime(2026, 11, 20, 12), days=0.1, seed=7)
    code = (
        "import sys\n"
        "from datetime import datetime\n"
        "from console.runtime.session import Session\n"
        "from console.screens.overview import session_overview\n"
        "from console.config.workspace import load_workspace\n"
        f"ws = load_workspace({str(tmp_path / 'demo' / 'oncall.yaml')!r})\n"
        "session = Session(ws, clock=lambda: datetime(2026, 11, 20, 12), run_engine=False,\n"
        "                  listen=False)\n"
        "data = session_overview(session)\n"
        "assert [s.sli is not None for s in data['slos']] == [True, True], data['slos']\n"
        "session.close()\n"
        "heavy = sorted(m for m in ('numpy', 'pyarrow', 'pandas', 'httpx') if m in sys.modules)\n"
        "print(' '.join(heavy))\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == ""


RULES = """\
groups:
  - name: g
    interval: 1m
    rules:
      - alert: Errors
        expr: sum by (service) (rate(req_total{code="500"}[5m])) / sum by (service) (rate(req_total[5m])) > 0.1
      - alert: Busiest
        expr: topk(1, sum by (service) (rate(req_total[5m]))) > 0
      - alert: Slow
        expr: histogram_quantile(0.9, sum by (le) (rate(lat_bucket[5m]))) > 0.2
      - record: service:req:rate5m
        expr: sum by (service) (rate(req_total[5m]))
      - alert: Threshold
        expr: {series: req_total, fn: increase, over: 5m, by: [service], op: '>', value: 0}
"""


def test_a_rule_cycle_needs_no_pandas(tmp_path) -> None:
    """`oncall rules eval` (PromQL alerts that fire, topk with a tie, a histogram quantile, a
    recording rule, a threshold rule) never imports pandas: pyarrow's own constructors load it
    (~0.25 s of every cycle process) only to ask whether their input is a DataFrame."""
    from datetime import datetime, timedelta

    import pyarrow as pa

    from console.store import Store, canonical_labels, ingest_samples

    now = datetime(2026, 11, 20, 12)
    rows = []
    for minute in range(30):
        ts = now - timedelta(minutes=30 - minute)
        for service in ("a", "b"):  # the same rates: topk(1, …) breaks a tie
            for code, per_minute in (("200", 60), ("500", 30)):
                labels = canonical_labels({"service": service, "code": code})
                rows.append(("req_total", labels, ts, float(per_minute * minute)))
        for le, per_minute in (("0.1", 10), ("0.5", 50), ("+Inf", 60)):
            rows.append(("lat_bucket", canonical_labels({"le": le}), ts, float(per_minute * minute)))
    names, labels, times, values = zip(*rows, strict=True)
    with Store.open(tmp_path / "s.duckdb") as store:
        ingest_samples(
            store,
            pa.table({"name": names, "labels": labels, "ts": times, "value": pa.array(values)}),
            now=now,
        )
    (tmp_path / "rules.yaml").write_text(RULES)
    (tmp_path / "oncall.yaml").write_text("store: s.duckdb\nrules: [rules.yaml]\n")
    code = (
        "import json, sys, contextlib, io\n"
        "from console.cli.main import main\n"
        "out = io.StringIO()\n"
        "with contextlib.redirect_stdout(out):\n"
        "    code = main(['rules', 'eval', '--format', 'json'])\n"
        "print(json.dumps({'code': code, 'pandas': 'pandas' in sys.modules, 'out': json.loads(out.getvalue())}))\n"
    )
    env = {**os.environ, "ONCALL_WORKSPACE": str(tmp_path), "ONCALL_NOW": "2026-11-20T12:00:00Z"}
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO, env=env)
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    fired = sorted({t["rule"] for t in report["out"]["transitions"]})
    # the file's five rules and oncall-meta's two (config invalid, rule failing)
    assert report["out"]["evaluated"] == 7, report
    assert fired == ["g/Busiest", "g/Errors", "g/Slow", "g/Threshold"], report
    assert report["out"]["recorded"] == {"g/service:req:rate5m": 2}, report
    assert report["pandas"] is False
