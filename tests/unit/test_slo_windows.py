"""Alert windows as data: Sloth's AlertWindows specs, the default by period, a workspace's own."""

import textwrap
from datetime import datetime, timedelta

import pytest

from console.cli.main import main
from console.config.workspace import load_workspace
from console.runtime.lastgood import load_config
from console.slo.backtest import backtest
from console.slo.conditions import slo_alert_conditions
from console.slo.model import SLOFileError, load_slo_file
from console.slo.status import evaluate_alert_conditions, slo_status
from console.slo.windows import WindowFileError, load_window_file, shipped_windows
from tests.unit.test_slo import NOW, STEP, feed, ratio_slo, store  # noqa: F401 - the fixture

# Sloth's own output for its 7d example windows (test/integration/prometheus/testdata/
# out-base-custom-windows-7d.yaml.tpl at slok/sloth 0e395d8): the factors in its alert rules.
SLOTH_7D_FACTORS = [13.44, 3.5, 1.4000000000000001, 0.98]

# Sloth's examples/windows/custom-30d.yaml: windows the console does not compute by itself.
CUSTOM_30D = """\
apiVersion: sloth.slok.dev/v1
kind: AlertWindows
metadata: {name: fast-30d}
spec:
  sloPeriod: 30d
  page:
    quick: {errorBudgetPercent: 1, shortWindow: 2m, longWindow: 30m}
    slow: {errorBudgetPercent: 2, shortWindow: 15m, longWindow: 3h}
  ticket:
    quick: {errorBudgetPercent: 5, shortWindow: 1h, longWindow: 12h}
    slow: {errorBudgetPercent: 5, shortWindow: 3h, longWindow: 36h}
"""


def factors(slo):
    return [c.factor for c in slo_alert_conditions(slo)]


def test_a_7d_slo_with_sloth_s_7d_windows_gets_sloth_s_factors():
    slo = ratio_slo(window="7d", alert_windows="sloth-7d")
    conditions = slo_alert_conditions(slo)
    assert factors(slo) == SLOTH_7D_FACTORS  # bit for bit what Sloth writes in its rules
    assert [f"{f:g}" for f in factors(slo)] == ["13.44", "3.5", "1.4", "0.98"]
    assert [(c.severity, c.speed, c.budget_percent) for c in conditions] == [
        ("page", "quick", 8),
        ("page", "slow", 12.5),
        ("ticket", "quick", 20),
        ("ticket", "slow", 42),
    ]
    assert [c.name for c in conditions] == [
        "avail:page:1h",
        "avail:page:6h",
        "avail:ticket:1d",
        "avail:ticket:3d",
    ]
    assert conditions[0].threshold == 13.44 * slo.budget and conditions[0].windows == "sloth-7d"


def test_the_default_is_the_spec_for_the_slo_s_period():
    assert factors(ratio_slo()) == [14.4, 6, 3, 1]  # 30d: google-30d, as before
    assert slo_alert_conditions(ratio_slo())[0].windows == "google-30d"
    assert factors(ratio_slo(window="28d")) == pytest.approx([13.44, 5.6, 2.8, 0.9333333333333333], rel=1e-15)
    assert slo_alert_conditions(ratio_slo(window="28d"))[0].windows == "google-28d"
    # No spec is for 7d by default: Google's budget shares over 7 days, as before, and said so.
    seven = ratio_slo(window="7d")
    assert factors(seven) == [3.36, 1.4, 0.7, 0.233333333]
    assert slo_alert_conditions(seven)[0].windows == "google-30d scaled to 7d"


def test_the_shipped_specs_are_sloth_s():
    specs = shipped_windows()
    assert sorted(specs) == ["google-28d", "google-30d", "sloth-7d"]
    assert [(w.budget_percent, w.short_window, w.long_window) for w in specs["google-30d"].windows] == [
        (2, timedelta(minutes=5), timedelta(hours=1)),
        (5, timedelta(minutes=30), timedelta(hours=6)),
        (10, timedelta(hours=2), timedelta(days=1)),
        (10, timedelta(hours=6), timedelta(days=3)),
    ]
    assert specs["sloth-7d"].period == timedelta(days=7)


def write(tmp_path, name, text):
    path = tmp_path / name
    path.write_text(textwrap.dedent(text))
    return path


SLO_NAMING = """\
slos:
  - name: x
    objective: 99
    window: {window}
    alert_windows: {windows}
    sli: {{ratio: {{good: a, total: b}}}}
"""


@pytest.mark.parametrize(
    "window, windows, fragment",
    [
        ("7d", "sloth-7dd", "unknown alert windows 'sloth-7dd'; did you mean 'sloth-7d'?"),
        (
            "30d",
            "sloth-7d",
            "alert windows 'sloth-7d' are for 7d SLOs (shipped sloth-7d.yaml); this SLO's window is 30d",
        ),
        ("30d", "fast-30d", "unknown alert windows 'fast-30d'"),  # a workspace's, not given here
    ],
)
def test_an_slo_naming_windows_it_cannot_use_gets_file_line(tmp_path, window, windows, fragment):
    path = write(tmp_path, "slos.yaml", SLO_NAMING.format(window=window, windows=windows))
    with pytest.raises(SLOFileError) as caught:
        load_slo_file(path)
    (problem,) = caught.value.problems
    assert str(problem).startswith(f"{path}:5: alert_windows: {fragment}")


BAD_SPECS = [
    (
        CUSTOM_30D.replace("errorBudgetPercent: 2,", "errorBudgetPrecent: 2,"),
        ":8: spec.page.slow.errorBudgetPrecent",
        "unknown key",
    ),
    (
        CUSTOM_30D.replace("longWindow: 36h", "longWindow: 36x"),
        ":11: spec.ticket.slow.longWindow",
        "not a duration",
    ),
    (
        CUSTOM_30D.replace("longWindow: 3h", "longWindow: 0s"),
        ":8: spec.page.slow.longWindow",
        "positive duration",
    ),
    (
        CUSTOM_30D.replace("errorBudgetPercent: 1,", "errorBudgetPercent: 0,"),
        ":7: spec.page.quick.errorBudgetPercent",
        "greater than 0",
    ),
    (CUSTOM_30D.replace("kind: AlertWindows", "kind: AlertWindow"), ":2: kind", "AlertWindows"),
    (CUSTOM_30D.replace("  sloPeriod: 30d\n", ""), ":4: spec.sloPeriod", "missing required key"),
    (
        CUSTOM_30D.replace("fast-30d", "google-30d"),
        ":1:",
        "alert windows 'google-30d' are also a shipped spec; rename one",
    ),
    (
        CUSTOM_30D + "---\n" + CUSTOM_30D.replace("metadata: {name: fast-30d}\n", ""),
        ":13:",
        "give each AlertWindows document a metadata.name",
    ),
    ("- just\n- a list\n", ":1:", "an AlertWindows document is a mapping"),
    ("spec: [unclosed\n", ":2:", "bad YAML"),
]


@pytest.mark.parametrize("text, where, fragment", BAD_SPECS)
def test_a_bad_spec_file_gets_one_line_with_file_line(tmp_path, text, where, fragment):
    path = write(tmp_path, "windows.yaml", text)
    with pytest.raises(WindowFileError) as caught:
        load_window_file(path)
    (problem,) = map(str, caught.value.problems)  # one mistake, one line
    assert "\n" not in problem and problem.startswith(f"{path}{where}") and fragment in problem, problem


def test_a_workspace_spec_drives_status_and_backtest_over_its_own_windows(tmp_path, store):  # noqa: F811
    (spec,) = load_window_file(write(tmp_path, "windows.yaml", CUSTOM_30D))
    assert spec.name == "fast-30d" and spec.source == f"{tmp_path / 'windows.yaml'}:1"
    text = SLO_NAMING.format(window="30d", windows="fast-30d").replace(
        "{ratio: {good: a, total: b}}", """{ratio: {bad: 'req_total{code="500"}', total: req_total}}"""
    )
    (slo,) = load_slo_file(write(tmp_path, "slos.yaml", text), windows={"fast-30d": spec})
    assert factors(slo) == [1 * 720 / 100 / 0.5, 2 * 720 / 100 / 3, 5 * 720 / 100 / 12, 5 * 720 / 100 / 36]
    # 20 minutes at 30% errors: the 2m and 30m windows see it (the default 5m/1h would too,
    # but not its 1h: 0.1 < 14.4 × 1%); nothing else does.
    feed(store, 3, 1000, lambda ts: [300 if NOW - timedelta(minutes=20) < t <= NOW else 0 for t in ts])
    (status,) = slo_status(store, [slo], NOW)
    assert {timedelta(minutes=2), timedelta(minutes=15), timedelta(hours=12), timedelta(hours=36)} <= set(
        status.windows
    )
    held = {c.name: h for c, h in status.conditions}
    assert held == {"x:page:30m": True, "x:page:3h": False, "x:ticket:12h": False, "x:ticket:1d12h": False}
    # The alert engine's view (the SLO burn rules): the same conditions, the same verdicts.
    engine = evaluate_alert_conditions(store, [slo], NOW)
    assert {c.name: h for c, _, h, _ in engine} == held and engine[0][1]["window"] == "30m/2m"
    (bt,) = backtest(store, [slo], NOW - timedelta(hours=2), NOW, STEP)
    assert bt.held["x:page:30m"][-1] and not bt.held["x:page:30m"][0]
    for window, value in status.windows.items():
        assert bt.error_ratio[window][-1] == pytest.approx(value.error_ratio, rel=1e-12)


def test_a_workspace_adds_specs_and_oncall_check_says_where_one_is_bad(tmp_path, capsys):
    (tmp_path / "oncall.yaml").write_text(
        "store: s.duckdb\nslos: [slos.yaml]\nalert_windows: [windows/*.yaml]\n"
    )
    (tmp_path / "windows").mkdir()
    write(tmp_path, "windows/custom.yaml", CUSTOM_30D)
    write(tmp_path, "slos.yaml", SLO_NAMING.format(window="30d", windows="fast-30d"))
    config = load_config(load_workspace(tmp_path / "oncall.yaml"), None, datetime(2026, 3, 1))
    assert config.lines() == []
    (slo,) = config.slos
    assert [c.long_window for c in slo_alert_conditions(slo)][:1] == [timedelta(minutes=30)]
    assert main(["-w", str(tmp_path), "check"]) == 0
    capsys.readouterr()
    write(tmp_path, "windows/custom.yaml", CUSTOM_30D.replace("longWindow: 36h", "longWindow: soon"))
    assert main(["-w", str(tmp_path), "check"]) == 1
    out = capsys.readouterr().out
    assert "windows/custom.yaml:11: spec.ticket.slow.longWindow: not a duration" in out
    # The SLO naming it is not blamed for the file's mistake beyond saying the spec is unknown.
    assert "slos.yaml:5: alert_windows: unknown alert windows 'fast-30d'" in out


def test_a_broken_windows_file_keeps_its_last_good_spec_in_force(tmp_path):
    from console.store import Store

    (tmp_path / "oncall.yaml").write_text(
        "store: s.duckdb\nslos: [slos.yaml]\nalert_windows: [windows.yaml]\n"
    )
    write(tmp_path, "windows.yaml", CUSTOM_30D)
    write(tmp_path, "slos.yaml", SLO_NAMING.format(window="30d", windows="fast-30d"))
    workspace = load_workspace(tmp_path / "oncall.yaml")
    with Store.open(workspace.store_path) as db:
        assert load_config(workspace, db, datetime(2026, 3, 1)).lines() == []
        write(
            tmp_path,
            "windows.yaml",
            CUSTOM_30D.replace(
                "errorBudgetPercent: 5, shortWindow: 3h", "errorBudgetPercent: five, shortWindow: 3h"
            ),
        )
        config = load_config(workspace, db, datetime(2026, 3, 2))
    (line,) = config.lines()
    assert "windows.yaml:11: spec.ticket.slow.errorBudgetPercent" in line and "last good version" in line
    (slo,) = config.slos  # still on its windows: the file's last good version is in force
    assert slo_alert_conditions(slo)[0].windows == "fast-30d"
    assert config.status[str(tmp_path / "windows.yaml")] == "last-good"
