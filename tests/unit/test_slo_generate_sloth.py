"""A Sloth spec imported and generated again gives the series `sloth generate` gives.

The spec and Sloth's own output are Sloth's getting-started example (tests/fixtures/sloth/).
"""

import re
from pathlib import Path

import pytest
import yaml

from console.cli.main import main
from console.slo.model import load_slo_file

FIXTURES = Path(__file__).parent.parent / "fixtures" / "sloth"
# Labels Sloth's example run adds (`cmd`, from its script) or that say which tool wrote the file.
TOOL_LABELS = {"cmd", "sloth_spec", "sloth_version"}


@pytest.fixture()
def both(tmp_path, capsys):
    (tmp_path / "oncall.yaml").write_text("store: s.duckdb\nslos: [slos.yaml]\n")
    assert (
        main(["slo", "import", str(FIXTURES / "getting-started.yml"), "-o", str(tmp_path / "slos.yaml")]) == 0
    )
    assert main(["-w", str(tmp_path), "slo", "generate", "--all"]) == 0
    ours = yaml.safe_load(capsys.readouterr().out)["groups"]
    sloth = yaml.safe_load((FIXTURES / "getting-started.gen.yml").read_text())["groups"]
    return ours, sloth, load_slo_file(tmp_path / "slos.yaml")


def _recordings(groups):
    return [
        (group["name"], rule["record"], {k: v for k, v in rule["labels"].items() if k not in TOOL_LABELS})
        for group in groups
        for rule in group["rules"]
        if "record" in rule
    ]


def test_recording_rules_have_sloth_s_groups_names_and_labels(both):
    ours, sloth, _ = both
    assert [g["name"] for g in ours] == [g["name"] for g in sloth]
    assert _recordings(ours) == _recordings(sloth)


def _pairs(expr: str) -> list[tuple[str, float]]:
    """(window, factor) of each leg of a burn alert's expression."""
    return [(w, float(f)) for w, f in re.findall(r"ratio_rate(\w+)\{[^}]*\} > \(([\d.]+) \*", expr)]


def test_alerts_hold_on_sloth_s_windows_and_factors_one_rule_per_condition(both):
    ours, sloth, (slo,) = both
    sloth_alerts = sloth[-1]["rules"]
    our_alerts = ours[-1]["rules"]
    for severity in ("page", "ticket"):
        (theirs,) = [a for a in sloth_alerts if a["labels"]["sloth_severity"] == severity]
        mine = [a for a in our_alerts if a["labels"]["sloth_severity"] == severity]
        # Sloth ORs the quick and slow pair in one rule; oncall writes one rule per pair.
        assert sorted(p for a in mine for p in _pairs(a["expr"])) == sorted(_pairs(theirs["expr"]))
        # The severity's own labels (Sloth's page_alert/ticket_alert labels) are on the alert,
        # but `severity`, which is the console's: page or ticket (a page opens an incident).
        for key, value in theirs["labels"].items():
            expected = severity if key == "severity" else value
            assert all(a["labels"][key] == expected for a in mine), key
        assert [a["labels"]["slo"] for a in mine] == [slo.name] * 2
        assert {a["alert"] for a in mine} == {theirs["alert"]} == {"MyServiceHighErrorRate"}
