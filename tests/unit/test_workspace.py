"""Loading oncall.yaml: every error names file:line and the key; nothing half-loads."""

from __future__ import annotations

from pathlib import Path

import pytest

from console.config.workspace import WorkspaceError, find_workspace, load_workspace


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def errors(path: Path) -> list[str]:
    with pytest.raises(WorkspaceError) as info:
        load_workspace(path)
    return [str(p) for p in info.value.problems]


def test_valid_workspace_loads_into_typed_objects(tmp_path: Path) -> None:
    write(tmp_path / "slos" / "api.yaml", "slos: []\n")
    write(tmp_path / "extra.yaml", "registries:\n  - name: local\n    kind: local\n")
    ws_file = write(
        tmp_path / "oncall.yaml",
        """\
store: data/store.duckdb
include: [extra.yaml]
slos: [slos/*.yaml]
allow_actions: true
retention: {samples: 30, logs: 7}
""",
    )
    ws = load_workspace(ws_file)
    assert ws.store_path == (tmp_path / "data" / "store.duckdb").resolve()
    assert ws.allow_actions is True
    assert [p.name for p in ws.slo_files] == ["api.yaml"]
    assert [r.name for r in ws.config.registries] == ["local"]
    assert ws.config.retention.days() == {"samples": 30, "logs": 7}
    assert len(ws.files) == 2


def test_actions_are_off_by_default(tmp_path: Path) -> None:
    ws = load_workspace(write(tmp_path / "oncall.yaml", "store: x.duckdb\n"))
    assert ws.allow_actions is False


def test_bad_yaml_names_file_and_line(tmp_path: Path) -> None:
    path = write(tmp_path / "oncall.yaml", "store: x.duckdb\nslos: [a.yaml\nrules: []\n")
    [message] = errors(path)
    assert message.startswith(f"{path}:3: bad YAML")


def test_duplicate_key_is_an_error(tmp_path: Path) -> None:
    path = write(tmp_path / "oncall.yaml", "store: a\nstore: b\n")
    assert errors(path) == [f"{path}:2: store: duplicate key (first at line 1)"]


def test_missing_key_names_the_item(tmp_path: Path) -> None:
    path = write(tmp_path / "oncall.yaml", "registries:\n  - kind: local\n")
    assert errors(path) == [f"{path}:2: registries[0].name: missing required key"]


def test_wrong_type_shows_the_value(tmp_path: Path) -> None:
    path = write(tmp_path / "oncall.yaml", "store: x\nallow_actions: perhaps\n")
    [message] = errors(path)
    assert message.startswith(f"{path}:2: allow_actions: Input should be a valid boolean")
    assert "'perhaps'" in message


def test_unknown_key_suggests_the_right_one(tmp_path: Path) -> None:
    path = write(tmp_path / "oncall.yaml", "store: x\n\nretention:\n  sampels: 3\n")
    assert errors(path) == [f"{path}:4: retention.sampels: unknown key; did you mean 'samples'?"]


def test_unknown_top_level_key(tmp_path: Path) -> None:
    path = write(tmp_path / "oncall.yaml", "alow_actions: true\n")
    assert errors(path) == [f"{path}:1: alow_actions: unknown key; did you mean 'allow_actions'?"]


def test_bad_include_names_the_including_line(tmp_path: Path) -> None:
    path = write(tmp_path / "oncall.yaml", "store: x\ninclude:\n  - nothere/*.yaml\n")
    assert errors(path) == [f"{path}:3: include: no file matches 'nothere/*.yaml'"]


def test_error_inside_an_included_file_names_that_file(tmp_path: Path) -> None:
    extra = write(tmp_path / "conf.d" / "reg.yaml", "registries:\n  - name: r\n    kind: vault\n")
    path = write(tmp_path / "oncall.yaml", "include: [conf.d/*.yaml]\n")
    [message] = errors(path)
    assert message.startswith(f"{extra}:3: registries[0].kind: Input should be 'local' or 'mlflow'")


def test_include_cycle_is_reported(tmp_path: Path) -> None:
    write(tmp_path / "a.yaml", "include: [oncall.yaml]\n")
    path = write(tmp_path / "oncall.yaml", "include: [a.yaml]\n")
    [message] = errors(path)
    assert "includes itself (a cycle)" in message


def test_scalar_set_twice_across_includes(tmp_path: Path) -> None:
    extra = write(tmp_path / "b.yaml", "store: other\n")
    path = write(tmp_path / "oncall.yaml", "store: x\ninclude: [b.yaml]\n")
    assert errors(path) == [f"{extra}:1: store: already set in {path}:1"]


def test_all_problems_reported_at_once(tmp_path: Path) -> None:
    path = write(tmp_path / "oncall.yaml", "stor: x\nallow_actions: 3.5\n")
    assert len(errors(path)) == 2


def test_unknown_collector_kind(tmp_path: Path) -> None:
    path = write(tmp_path / "oncall.yaml", "sources:\n  - name: a\n    kind: no-such-kind\n")
    [message] = errors(path)
    assert message.startswith(f"{path}:3: sources[0].kind: unknown collector kind 'no-such-kind'")


def test_unknown_option_deep_in_a_source_suggests_from_its_own_keys(tmp_path: Path) -> None:
    path = write(
        tmp_path / "oncall.yaml",
        """sources:
  - name: drift
    kind: drift
    windows:
      - model: m
        reference: {span: 6h, ago: 1h}
        curent: 1h
    stpe: 1m
""",
    )
    assert sorted(errors(path)) == [
        f"{path}:7: sources[0].windows[0].curent: unknown option; did you mean 'current'?",
        f"{path}:8: sources[0].stpe: unknown option; did you mean 'step'?",
    ]


def test_a_yaml_boolean_where_a_name_belongs_says_to_quote_it(tmp_path: Path) -> None:
    path = write(tmp_path / "oncall.yaml", "sources:\n  - name: off\n    kind: demo\n")
    [message] = errors(path)
    assert message.startswith(f"{path}:2: sources[0].name: Input should be a valid string (got False)")
    assert message.endswith("quote the value")


def test_missing_referenced_file(tmp_path: Path) -> None:
    path = write(tmp_path / "oncall.yaml", "rules:\n  - rules/*.yaml\n")
    assert errors(path) == [f"{path}:2: rules: no file matches 'rules/*.yaml'"]


def test_find_workspace_order(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    a = write(tmp_path / "a" / "oncall.yaml", "")
    b = write(tmp_path / "b" / "oncall.yaml", "")
    c = write(tmp_path / "c" / "oncall.yaml", "")
    monkeypatch.setenv("ONCALL_WORKSPACE", str(b.parent))
    assert find_workspace(str(a)) == a
    assert find_workspace(None) == b
    monkeypatch.delenv("ONCALL_WORKSPACE")
    assert find_workspace(None, cwd=c.parent) == c
    with pytest.raises(WorkspaceError, match="no workspace here"):
        find_workspace(None, cwd=tmp_path)
