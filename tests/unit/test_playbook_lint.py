"""`oncall playbook lint`: the shipped library is clean; each seeded error is found with file:line."""

from __future__ import annotations

from pathlib import Path

from console.playbooks.checking import lint_paths
from console.playbooks.loading import SHIPPED_DIR, load_library

BROKEN = Path(__file__).resolve().parents[1] / "fixtures" / "broken_playbooks"

# file -> (line, words the message must contain), one per seeded error
SEEDED = {
    ("unknown_target.yaml", 6, "unknown step 'nowhere'"),
    ("unreachable.yaml", 7, "'orphan' is unreachable"),
    ("undefined_var.yaml", 10, "undefined template variable 'vars.modle'"),
    ("undefined_var.yaml", 13, "undefined template variable 'hostname'"),
    ("schema_kind.yaml", 5, "'shell'"),
    ("schema_missing.yaml", 4, "a query step needs `sql`"),
    ("schema_missing.yaml", 9, "colour: unknown key"),
    ("bad_decision.yaml", 8, "unknown step 'do-it'"),
    ("template_syntax.yaml", 6, "template syntax error"),
    ("bad_yaml.yaml", 5, "bad YAML"),
    ("unknown_action.yaml", 6, "unknown action 'delete-everything'"),
    ("templated_sql.yaml", 6, "`sql` is not templated"),
    ("unsafe_argv.yaml", 6, "into `sh -c` inline code"),
    ("unsafe_argv.yaml", 11, "templated value the program (argv[0])"),
    ("unsafe_argv.yaml", 16, "is templated but not a typed input"),
    ("unsafe_argv.yaml", 21, "declared but no argv element is {{ inputs.host }}"),
    ("bad_matcher.yaml", 6, "bad regular expression in matcher"),
    ("unknown_suspect_field.yaml", 6, "a suspect has no 'top_suspect.vesion'; it has actor, at, kind"),
    ("unknown_suspect_field.yaml", 10, "a suspect has no 's.actr'"),
    ("unknown_suspect_field.yaml", 10, "a suspect has no 'suspects[0].scor'"),
}


def test_shipped_library_is_clean_and_covers_the_ml_failures() -> None:
    files, problems = lint_paths([SHIPPED_DIR])
    assert problems == []
    assert files >= 6
    library, load_problems = load_library([SHIPPED_DIR])
    assert load_problems == []
    assert {
        "latency-regression-after-deploy",
        "error-rate-spike",
        "feature-drift-upstream",
        "prediction-volume-drop",
        "upstream-dependency-down",
        "slo-budget-exhausted",
    } <= set(library)
    assert all(p.applies_to.alerts for p in library.values())


def test_each_seeded_error_is_reported_with_file_and_line() -> None:
    files, problems = lint_paths([BROKEN])
    assert files == len({name for name, _, _ in SEEDED})
    reported = [(Path(str(p.file)).name, p.line, str(p)) for p in problems]
    for name, line, words in SEEDED:
        assert any(n == name and at == line and words in text for n, at, text in reported), (
            f"{name}:{line} {words!r} not in {reported}"
        )
    assert len(problems) == len(SEEDED), "no extra, unexpected problems"


def test_lint_cli_exit_codes(oncall, tmp_path: Path) -> None:
    clean = oncall("playbook", "lint", str(SHIPPED_DIR), cwd=tmp_path)
    assert clean.returncode == 0, clean.stdout + clean.stderr
    assert "6 playbook" in clean.stdout
    broken = oncall("playbook", "lint", str(BROKEN / "unknown_target.yaml"), cwd=tmp_path)
    assert broken.returncode == 1
    assert f"{BROKEN / 'unknown_target.yaml'}:6:" in broken.stdout
