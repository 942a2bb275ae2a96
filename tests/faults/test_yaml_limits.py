"""Hostile YAML (alias bombs, deep nesting, oversized files) gets one `file:line` error
naming the limit, fast and in little memory, from every command that reads YAML."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from console.config.workspace import WorkspaceError, load_workspace
from console.config.yamlmarks import (
    MarkedDict,
    Problem,
    YamlLimits,
    _loader,
    compose_bounded,
    load_marked,
    load_marked_all,
    set_default_limits,
)

SECONDS = 5  # loose: a bomb used to hang for minutes
PEAK_MB = 200  # loose: a bomb used to reach gigabytes

# Billion laughs: each level repeats the one before nine times (9**9 strings once expanded).
BOMB_LEVELS = "".join(
    f"  {name}: &{name} [{', '.join([f'*{prev}'] * 9)}]\n" for prev, name in zip("abcdefgh", "bcdefghi")
)
BOMB = "  a: &a [lol, lol, lol, lol, lol, lol, lol, lol, lol]\n" + BOMB_LEVELS

RULE = "groups:\n  - name: g\n    rules:\n      - alert: A\n        expr: SELECT 1 AS value\n"
SLO = """\
slos:
  - name: api-availability
    service: api
    objective: 99.9
    sli:
      ratio: {bad: 'errors_total', total: 'requests_total'}
"""
PLAYBOOK = """\
id: restart
title: Restart the scorer
steps:
  - id: look
    kind: note
    text: look at the dashboard
"""

# Runs `oncall ARGS` as a whole process from a fresh helper, so the child's peak memory
# is its own (RUSAGE_CHILDREN keeps the largest child the helper waited for).
MEASURE = """\
import json, resource, subprocess, sys, time
started = time.monotonic()
done = subprocess.run(sys.argv[2:], capture_output=True, text=True, timeout=120)
json.dump({"code": done.returncode, "stdout": done.stdout, "stderr": done.stderr,
           "seconds": time.monotonic() - started,
           "peak_mb": resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024},
          open(sys.argv[1], "w"))
"""


@pytest.fixture(autouse=True)
def _default_limits():
    """load_workspace sets the limits for the files it names; later tests start from defaults."""
    yield
    set_default_limits(YamlLimits())


def run_measured(tmp_path: Path, *args: str) -> dict:
    """`oncall ARGS` in a fresh interpreter: exit code, output, wall seconds, peak MB."""
    report = tmp_path / "measured.json"
    subprocess.run(
        [sys.executable, "-c", MEASURE, str(report), sys.executable, "-m", "console", *args],
        cwd=tmp_path,
        env={**os.environ},
        check=True,
        timeout=150,
    )
    return json.loads(report.read_text())


def refused(result: dict, file: Path, line: int | None, limit: str) -> str:
    """The one line naming file:line and the limit; asserts the run stayed small and fast."""
    output = result["stdout"] + result["stderr"]
    assert "Traceback" not in output, output
    where = re.compile(rf"(^|: ){re.escape(str(file))}:{line or '[0-9]+'}: ")
    matches = [text for text in output.splitlines() if where.search(text)]
    assert len(matches) == 1, output
    assert limit in matches[0], matches[0]
    assert result["seconds"] < SECONDS, result["seconds"]
    assert result["peak_mb"] < PEAK_MB, result["peak_mb"]
    return matches[0]


def workspace(tmp_path: Path, text: str, **files: str) -> Path:
    """A workspace directory with oncall.yaml and the named files."""
    (tmp_path / "oncall.yaml").write_text(text)
    for name, body in files.items():
        path = tmp_path / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(body)
    return tmp_path


def bomb_line(text: str) -> int:
    """The line where 100,000 expanded nodes are crossed: level f's first alias (*e, 66,430
    nodes, on top of the ~75,000 levels a to e expand to)."""
    return next(n for n, line in enumerate(text.splitlines(), 1) if "&f [" in line)


# -- each bomb shape, each command that reads it ----------------------------------------


def test_alias_bomb_in_the_workspace_include(tmp_path: Path) -> None:
    text = "include: &top\n" + "  - x.yaml\n" + "bombs:\n" + BOMB + "rules: *top\n"
    ws = workspace(tmp_path, "include:\n  - more.yaml\n", **{"more.yaml": text})
    result = run_measured(tmp_path, "-w", str(ws), "check")
    assert result["code"] == 1
    line = refused(result, tmp_path / "more.yaml", bomb_line(text), "100,000 nodes")
    assert "always have this limit" in line


def test_alias_bomb_as_the_include_list_itself(tmp_path: Path) -> None:
    text = "bombs:\n" + BOMB + "include: *i\n"
    ws = workspace(tmp_path, text)
    result = run_measured(tmp_path, "-w", str(ws), "rules")
    assert result["code"] == 2
    refused(result, tmp_path / "oncall.yaml", bomb_line(text), "100,000 nodes")


@pytest.mark.parametrize("command", [("rules", "check", "rules.yaml"), ("check",)])
def test_alias_bomb_in_a_rules_file(tmp_path: Path, command: tuple[str, ...]) -> None:
    text = "x-bomb:\n" + BOMB + RULE
    ws = workspace(tmp_path, "rules: [rules.yaml]\n", **{"rules.yaml": text})
    args = [str(tmp_path / arg) if arg.endswith(".yaml") else arg for arg in command]
    result = run_measured(tmp_path, "-w", str(ws), *args)
    assert result["code"] == 1
    line = refused(result, tmp_path / "rules.yaml", bomb_line(text), "100,000 nodes")
    assert "yaml_max_nodes" in line


def test_alias_bomb_in_a_playbook(tmp_path: Path) -> None:
    text = PLAYBOOK + "x-bomb:\n" + BOMB
    workspace(tmp_path, "playbooks: [books]\n", **{"books/restart.yaml": text})
    result = run_measured(tmp_path, "playbook", "lint", str(tmp_path / "books"))
    assert result["code"] == 1
    refused(result, tmp_path / "books" / "restart.yaml", bomb_line(text), "100,000 nodes")


def test_alias_bomb_in_an_slo_file(tmp_path: Path) -> None:
    text = "x-bomb:\n" + BOMB + SLO
    ws = workspace(tmp_path, "slos: [slos.yaml]\n", **{"slos.yaml": text})
    result = run_measured(tmp_path, "-w", str(ws), "check")
    assert result["code"] == 1
    refused(result, tmp_path / "slos.yaml", bomb_line(text), "100,000 nodes")


def test_alias_bomb_in_a_sloth_file_to_import(tmp_path: Path) -> None:
    text = "version: prometheus/v1\nservice: api\nx-bomb:\n" + BOMB + "---\nslos: []\n"
    (tmp_path / "sloth.yaml").write_text(text)
    result = run_measured(tmp_path, "slo", "import", str(tmp_path / "sloth.yaml"))
    assert result["code"] != 0
    refused(result, tmp_path / "sloth.yaml", bomb_line(text), "100,000 nodes")


def test_deep_nesting_in_a_rules_file(tmp_path: Path) -> None:
    text = RULE + "".join(f"{'  ' * depth}x{depth}:\n" for depth in range(900)) + "  " * 900 + "end\n"
    (tmp_path / "rules.yaml").write_text(text)
    result = run_measured(tmp_path, "rules", "check", "rules.yaml")
    assert result["code"] == 1
    # The mapping holding x100 (line 106) is the 101st: the file's own, then one under each key.
    line = refused(result, Path("rules.yaml"), 106, "deeper than the limit of 100 levels")
    assert "yaml_max_depth" in line


def test_deep_nesting_made_of_aliases(tmp_path: Path) -> None:
    chain = "".join(f"  l{n}: &l{n} [*l{n - 1}]\n" for n in range(1, 200))
    text = "x-deep:\n  l0: &l0 [bottom]\n" + chain + RULE
    (tmp_path / "rules.yaml").write_text(text)
    result = run_measured(tmp_path, "rules", "check", "rules.yaml")
    assert result["code"] == 1
    # *l97 on line 100 is the first alias to reach 101 levels: 3 open ones and l97's 98.
    refused(result, Path("rules.yaml"), 100, "deeper than the limit of 100 levels")


def test_an_slo_file_over_the_size_limit(tmp_path: Path) -> None:
    entry = "  - {name: s%d, service: api, objective: 99.9, sli: {ratio: {bad: e, total: t}}}\n"
    with (tmp_path / "slos.yaml").open("w") as out:
        out.write("slos:\n")
        for chunk in range(600):
            out.write("".join(entry % (chunk * 1000 + n) for n in range(1000)))
    assert (tmp_path / "slos.yaml").stat().st_size > 44_000_000
    ws = workspace(tmp_path, "slos: [slos.yaml]\n")
    result = run_measured(tmp_path, "-w", str(ws), "check")
    assert result["code"] == 1
    line = refused(result, tmp_path / "slos.yaml", 1, "size limit of 10,000,000 bytes")
    assert "yaml_max_bytes" in line


# -- the workspace's `limits:` ------------------------------------------------------------


def test_the_workspace_raises_the_node_limit_for_a_file_it_names(tmp_path: Path) -> None:
    labels = "{" + ", ".join(f"l{n}: v" for n in range(50)) + "}"
    rules = "".join(
        f"      - alert: A{n}\n        expr: SELECT 1 AS value\n        labels: *common\n"
        for n in range(1, 1100)
    )
    text = (
        "groups:\n  - name: g\n    rules:\n      - alert: A0\n        expr: SELECT 1 AS value\n"
        f"        labels: &common {labels}\n{rules}"
    )  # 1,100 rules of 107 nodes
    ws = workspace(tmp_path, "rules: [rules.yaml]\n", **{"rules.yaml": text})
    result = run_measured(tmp_path, "-w", str(ws), "rules", "--format", "json")
    crossed = refused(result, tmp_path / "rules.yaml", None, "100,000 nodes")
    line = int(re.search(r"rules\.yaml:([0-9]+):", crossed).group(1))
    assert text.splitlines()[line - 1] == "        labels: *common"  # the alias itself

    (tmp_path / "oncall.yaml").write_text("rules: [rules.yaml]\nlimits: {yaml_max_nodes: 200000}\n")
    result = run_measured(tmp_path, "-w", str(ws), "rules", "--format", "json")
    assert result["code"] == 0, result["stdout"] + result["stderr"]
    assert len([r for r in json.loads(result["stdout"]) if r["source"] == "rule"]) == 1100


def test_the_workspace_lowers_the_limits_for_the_files_it_names(tmp_path: Path) -> None:
    ws = workspace(tmp_path, "rules: [rules.yaml]\nlimits: {yaml_max_nodes: 10}\n", **{"rules.yaml": RULE})
    result = run_measured(tmp_path, "-w", str(ws), "check")
    assert result["code"] == 1
    refused(result, tmp_path / "rules.yaml", 4, "limit of 10 nodes")  # the 11th: `A`

    (tmp_path / "oncall.yaml").write_text("rules: [rules.yaml]\nlimits: {yaml_max_bytes: 50}\n")
    result = run_measured(tmp_path, "-w", str(ws), "check")
    assert result["code"] == 1
    refused(result, tmp_path / "rules.yaml", 1, "size limit of 50 bytes")


def test_the_workspace_file_itself_keeps_the_default_limits(tmp_path: Path) -> None:
    filler = "".join(f"# {n}\n" for n in range(20))
    ws = workspace(tmp_path, "limits: {yaml_max_bytes: 50}\n" + filler)
    assert load_workspace(ws / "oncall.yaml").config.limits.yaml_max_bytes == 50


@pytest.mark.parametrize(
    "limits, fragment",
    [
        ("{yaml_max_nodes: 0}", "greater than 0"),
        ("{yaml_max_bytes: '10MB'}", "valid integer"),
        ("{yaml_max_node: 5}", "did you mean 'yaml_max_nodes'"),
    ],
)
def test_a_bad_limit_is_a_workspace_problem(tmp_path: Path, limits: str, fragment: str) -> None:
    ws = workspace(tmp_path, f"limits: {limits}\n")
    with pytest.raises(WorkspaceError) as caught:
        load_workspace(ws / "oncall.yaml")
    assert str(caught.value).startswith(f"{ws / 'oncall.yaml'}:1:")
    assert fragment in str(caught.value)


# -- the node counter ---------------------------------------------------------------------


def _unbounded(path: Path) -> object:
    """The loader before limits: libyaml's composer under the same constructors."""
    import yaml

    return yaml.load(path.read_text(), Loader=_loader(str(path)))


def _marks(value: object) -> object:
    """A loaded value with its file:line marks, for comparing two loads."""
    if isinstance(value, dict):
        return (value.line, dict(value.key_lines), {k: _marks(v) for k, v in value.items()})
    if isinstance(value, list):
        return (value.line, list(value.item_lines), [_marks(v) for v in value])
    return value


def _expanded(value: object) -> int:
    """Nodes in the fully expanded tree of a loaded value (keys and values each count)."""
    if isinstance(value, dict):
        return 1 + sum(1 + _expanded(v) for v in value.values())
    if isinstance(value, list):
        return 1 + sum(_expanded(v) for v in value)
    return 1


def test_a_file_with_aliases_under_the_limit_loads_as_before(tmp_path: Path) -> None:
    text = (
        "defaults: &defaults {for: 2m, labels: {severity: page}}\n"
        "groups:\n  - name: g\n    rules:\n"
        + "".join(
            f"      - <<: *defaults\n        alert: A{n}\n        expr: SELECT {n}\n" for n in range(300)
        )
    )
    path = tmp_path / "rules.yaml"
    path.write_text(text)
    loaded = load_marked(path)
    assert _marks(loaded) == _marks(_unbounded(path))
    assert loaded["groups"][0]["rules"][299] == {
        "for": "2m",
        "labels": {"severity": "page"},
        "alert": "A299",
        "expr": "SELECT 299",
    }


def test_the_count_is_the_expanded_size(tmp_path: Path) -> None:
    path = tmp_path / "bomb.yaml"
    path.write_text("levels:\n" + "".join(BOMB.splitlines(keepends=True)[:4]))  # a to d
    expected = _expanded(_unbounded(path))
    assert load_marked(path, YamlLimits(max_nodes=expected)) is not None
    with pytest.raises(Problem, match=f"limit of {expected - 1:,} nodes"):
        load_marked(path, YamlLimits(max_nodes=expected - 1))


def test_composing_a_bomb_does_not_expand_it(tmp_path: Path) -> None:
    path = tmp_path / "bomb.yaml"
    path.write_text("levels:\n" + BOMB)
    loader = _loader(str(path))(path.read_text())
    with pytest.raises(Problem) as caught:
        compose_bounded(loader, str(path), YamlLimits())
    assert caught.value.line == bomb_line("levels:\n" + BOMB)


@pytest.mark.parametrize(
    "text, line, fragment",
    [
        ("a: &x [1, *x]\n", 1, "inside its own anchor"),
        ("a: &x 1\nb: &x 2\n", 2, "anchor &x is defined twice (first at line 1)"),
        ("a: *nope\n", 1, "names no anchor"),
        ("a: 1\n---\nb: 2\n", 2, "expected a single document"),
        ("n: " + "1" * 5000 + "\n", 1, "Exceeds the limit (4300 digits)"),
        ("when: 2026-13-45\n", 1, "month must be in 1..12"),
    ],
    ids=["recursive", "anchor-twice", "no-anchor", "two-documents", "5000-digits", "month-13"],
)
def test_what_cannot_be_loaded_is_a_problem_at_its_line(
    tmp_path: Path, text: str, line: int, fragment: str
) -> None:
    path = tmp_path / "x.yaml"
    path.write_text(text)
    with pytest.raises(Problem) as caught:
        load_marked(path)
    assert (caught.value.line, fragment in caught.value.message) == (line, True), caught.value


def test_every_document_of_a_multi_document_file(tmp_path: Path) -> None:
    path = tmp_path / "multi.yaml"
    path.write_text("a: &x 1\n---\nb: 2\n---\n")
    documents = load_marked_all(path)
    assert documents == [{"a": 1}, {"b": 2}, None]
    assert isinstance(documents[1], MarkedDict) and documents[1].key_lines == {"b": 3}


def test_no_yaml_reading_bypasses_the_bounded_loader() -> None:
    root = Path(__file__).resolve().parents[2]
    direct = re.compile(r"yaml\.(safe_)?load|yaml\.(C?Safe)?Loader\(|yaml\.compose")
    offenders = [
        f"{path.relative_to(root)}:{n}"
        for folder in ("console", "collectors")
        for path in sorted((root / folder).rglob("*.py"))
        if path.name != "yamlmarks.py"
        for n, line in enumerate(path.read_text().splitlines(), 1)
        if direct.search(line)
    ]
    assert offenders == []
