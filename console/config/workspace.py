"""The workspace: `oncall.yaml` and the files it names, loaded whole or not at all."""

from __future__ import annotations

import difflib
import glob
import os
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, ValidationError, field_validator

from console.config.durations import parse_duration
from console.config.plugins import available_collectors, collector_kinds
from console.config.problems import validation_problems
from console.config.promql import PromqlConfig
from console.config.team import TeamConfig
from console.config.yamlmarks import (
    WORKSPACE_LIMITS,
    MarkedDict,
    MarkedList,
    Problem,
    YamlLimits,
    load_marked,
    locate,
    set_default_limits,
)

WORKSPACE_FILE = "oncall.yaml"
ENV_VAR = "ONCALL_WORKSPACE"

Duration = Annotated[timedelta, BeforeValidator(parse_duration)]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class SourceConfig(BaseModel):
    """A collector instance.  Keys other than these are the collector's own options."""

    model_config = ConfigDict(extra="allow")

    name: str = Field(min_length=1)
    kind: str = Field(min_length=1)
    interval: Duration = timedelta(seconds=60)
    enabled: bool = True

    @property
    def options(self) -> dict[str, Any]:
        return dict(self.model_extra or {})


class RegistryConfig(BaseModel):
    """A model registry; keys other than these are the adapter's own options."""

    model_config = ConfigDict(extra="allow")

    name: str = Field(min_length=1)
    kind: Literal["local", "mlflow"] = "local"
    protected_models: list[str] = []

    @property
    def options(self) -> dict[str, Any]:
        return dict(self.model_extra or {})


class RetentionConfig(_Strict):
    samples: float | None = Field(default=None, gt=0)
    logs: float | None = Field(default=None, gt=0)
    changes: float | None = Field(default=None, gt=0)
    alert_history: float | None = Field(default=None, gt=0)

    def days(self) -> dict[str, float]:
        return {k: v for k, v in self.model_dump().items() if v is not None}


Positive = Annotated[int, Field(gt=0, strict=True)]


class LimitsConfig(_Strict):
    """Bounds on the YAML files the workspace names (not oncall.yaml or its includes)."""

    yaml_max_bytes: Positive = YamlLimits.max_bytes
    yaml_max_nodes: Positive = YamlLimits.max_nodes
    yaml_max_depth: Positive = YamlLimits.max_depth

    def yaml(self) -> YamlLimits:
        return YamlLimits(self.yaml_max_bytes, self.yaml_max_nodes, self.yaml_max_depth)


class WorkspaceConfig(_Strict):
    """What `oncall.yaml` may say.  Paths are relative to the file that names them."""

    store: str = "oncall.duckdb"
    include: list[str] = []
    sources: list[SourceConfig] = []
    slos: list[str] = []
    alert_windows: list[str] = []  # files of Sloth `AlertWindows` documents an SLO may name
    rules: list[str] = []
    playbooks: list[str] = []
    canaries: list[str] = []  # files of canary analyses (console/canary/)
    registries: list[RegistryConfig] = []
    allow_actions: bool = False
    retention: RetentionConfig = RetentionConfig()
    limits: LimitsConfig = LimitsConfig()
    promql: PromqlConfig = PromqlConfig()  # window edges: Prometheus 2.x (closed) or 3.x
    external_labels: dict[str, str] = {}  # as Prometheus's global.external_labels: `$externalLabels`
    team: TeamConfig | None = None  # the team's shared state in Postgres (docs/team.md)

    @field_validator("sources")
    @classmethod
    def _unique_sources(cls, value: list[SourceConfig]) -> list[SourceConfig]:
        seen: set[str] = set()
        for source in value:
            if source.name in seen:
                raise ValueError(f"two sources are named {source.name!r}")
            seen.add(source.name)
        return value


_LIST_KEYS = ("sources", "slos", "alert_windows", "rules", "playbooks", "canaries", "registries")
_PATH_LIST_KEYS = ("slos", "alert_windows", "rules", "playbooks", "canaries")


class WorkspaceError(Exception):
    """The workspace did not load; `problems` says every place that is wrong."""

    def __init__(self, problems: list[Problem]) -> None:
        self.problems = problems
        super().__init__("\n".join(str(p) for p in problems))


@dataclass
class Workspace:
    """A loaded, validated workspace.  Paths in it are absolute."""

    path: Path
    config: WorkspaceConfig
    store_path: Path
    slo_files: list[Path] = field(default_factory=list)
    alert_window_files: list[Path] = field(default_factory=list)
    rule_files: list[Path] = field(default_factory=list)
    playbook_dirs: list[Path] = field(default_factory=list)
    canary_files: list[Path] = field(default_factory=list)
    files: list[Path] = field(default_factory=list)  # oncall.yaml and its includes
    warnings: list[Problem] = field(default_factory=list)
    last_good: Any = None  # lastgood.FileProblem when this is the last good version in force

    @property
    def root(self) -> Path:
        return self.path.parent

    @property
    def allow_actions(self) -> bool:
        return self.config.allow_actions

    @property
    def state_dir(self) -> Path:
        """Where the console keeps its own files (its log, last good versions): `.oncall/`."""
        return self.root / ".oncall"


def ensure_state_dir(workspace: Workspace) -> Path:
    """The workspace's state directory, created private (0700) if it is missing."""
    path = workspace.state_dir
    path.mkdir(mode=0o700, exist_ok=True)
    path.chmod(0o700)  # mkdir's mode is narrowed by the umask, and an old one may be wider
    return path


def find_workspace(explicit: str | os.PathLike[str] | None = None, cwd: Path | None = None) -> Path:
    """`--workspace`, then $ONCALL_WORKSPACE, then `oncall.yaml` in the current directory."""
    candidate, origin = _candidate(explicit, cwd)
    path = Path(candidate).expanduser()
    if path.is_dir():
        path = path / WORKSPACE_FILE
    if not path.is_file():
        raise WorkspaceError(
            [
                Problem(
                    path,
                    None,
                    f"no workspace here (from {origin}); create {WORKSPACE_FILE}, "
                    f"or pass --workspace PATH or set {ENV_VAR}",
                )
            ]
        )
    return path.resolve()


def _candidate(
    explicit: str | os.PathLike[str] | None, cwd: Path | None
) -> tuple[str | os.PathLike[str], str]:
    """The workspace path asked for, and where it came from (for the message if it is not there)."""
    candidate = explicit or os.environ.get(ENV_VAR)
    if candidate:
        return candidate, "--workspace" if explicit else f"${ENV_VAR}"
    return (cwd or Path.cwd()) / WORKSPACE_FILE, "the current directory"


def _merge_includes(
    path: Path, seen: tuple[Path, ...] = (), texts: dict[Path, str] | None = None
) -> tuple[MarkedDict, list[Path]]:
    """Load a file and the files it includes; lists concatenate, scalars may be set once.

    `texts` gives a file's text instead of reading it (its last good version)."""
    texts = texts or {}
    data = _load_mapping(path, texts)
    files = [path]
    includes = data.pop("include", None) or []
    include_line = data.key_lines.get("include", 1)
    if not isinstance(includes, list):
        raise WorkspaceError([Problem(path, include_line, "must be a list of paths", "include")])
    problems: list[Problem] = []
    for index, pattern in enumerate(includes):
        line = includes.item_lines[index] if isinstance(includes, MarkedList) else include_line
        problems += _include(data, files, path, pattern, line, (*seen, path), texts)
    if problems:
        raise WorkspaceError(problems)
    return data, files


def _include(
    data: MarkedDict,
    files: list[Path],
    path: Path,
    pattern: Any,
    line: int,
    seen: tuple[Path, ...],
    texts: dict[Path, str],
) -> list[Problem]:
    """Merge the files one `include` pattern matches into `data`; the problems found."""
    matches = sorted(glob.glob(str(path.parent / str(pattern))))
    if not matches:
        return [Problem(path, line, f"no file matches {pattern!r}", "include")]
    problems: list[Problem] = []
    for match in matches:
        target = Path(match).resolve()
        if target in seen:  # `seen` ends with `path` itself
            problems.append(Problem(path, line, f"{pattern!r} includes itself (a cycle)", "include"))
            continue
        try:
            child, child_files = _merge_includes(target, seen, texts)
        except WorkspaceError as exc:
            problems.extend(exc.problems)
            continue
        files += child_files
        problems += _merge_child(data, child, target, path.parent)
    return problems


def _load_mapping(path: Path, texts: dict[Path, str]) -> MarkedDict:
    """One workspace file's keys (an empty file has none)."""
    try:
        data = load_marked(path, WORKSPACE_LIMITS, text=texts.get(path))
    except Problem as problem:
        raise WorkspaceError([problem]) from None
    if data is None:
        data = MarkedDict()
        data.file, data.line, data.key_lines = str(path), 1, {}
    if not isinstance(data, MarkedDict):
        raise WorkspaceError(
            [Problem(path, getattr(data, "line", 1), "the workspace file must be a mapping of keys")]
        )
    return data


def _merge_child(data: MarkedDict, child: MarkedDict, target: Path, root_dir: Path) -> list[Problem]:
    """Merge an included file's keys into `data`; the problems of keys that clash."""
    problems: list[Problem] = []
    for key, value in child.items():
        child_line = child.key_lines[key]
        if key in _LIST_KEYS and isinstance(value, list):
            problems += _merge_list(data, key, value, child_line, target, root_dir)
        elif key in data:
            problems.append(
                Problem(target, child_line, f"already set in {data.file}:{data.key_lines[key]}", str(key))
            )
        else:
            data[key], data.key_lines[key] = value, child_line
    return problems


def _merge_list(
    data: MarkedDict, key: str, value: list[Any], child_line: int, target: Path, root_dir: Path
) -> list[Problem]:
    """Lists from includes concatenate, their paths rebased onto the root file's directory."""
    if key in _PATH_LIST_KEYS and isinstance(value, MarkedList):
        value = _rebase_paths(value, target.parent, root_dir)
    merged = data.get(key)
    if merged is None:
        data[key], data.key_lines[key] = value, child_line
    elif isinstance(merged, MarkedList) and isinstance(value, MarkedList):
        merged.extend(value)
        merged.item_lines.extend(value.item_lines)
        _note_item_files(merged, len(merged) - len(value), value.file)
    else:
        return [Problem(target, child_line, "must be a list", key)]
    return []


def _note_item_files(merged: MarkedList, start: int, file: str) -> None:
    """Items appended from an include keep their own file for error locations."""
    item_files = getattr(merged, "item_files", None) or [merged.file] * start
    item_files += [file] * (len(merged) - start)
    merged.item_files = item_files


def _rebase_paths(values: MarkedList, child_dir: Path, root_dir: Path) -> MarkedList:
    """Paths in an included file are relative to that file; store them relative to the root."""
    rebased = MarkedList(
        os.path.relpath(child_dir / str(v), root_dir) if not os.path.isabs(str(v)) else v for v in values
    )
    rebased.file, rebased.line, rebased.item_lines = values.file, values.line, values.item_lines
    return rebased


def _expand(
    patterns: list[str], root: Path, key: str, data: MarkedDict, want_dir: bool = False
) -> tuple[list[Path], list[Problem]]:
    found: list[Path] = []
    problems: list[Problem] = []
    for index, pattern in enumerate(patterns):
        matches = _matching(root, pattern, want_dir)
        if not matches:
            file, line = _item_place(data, key, index)
            kind = "directory" if want_dir else "file"
            problems.append(Problem(file, line, f"no {kind} matches {pattern!r}", key))
        found += matches
    return found, problems


def _item_place(data: MarkedDict, key: str, index: int) -> tuple[str, int | None]:
    """Where item `index` of list `key` is written: its own file when it came from an include."""
    node = data.get(key)
    line = node.item_lines[index] if isinstance(node, MarkedList) else data.key_lines.get(key)
    item_files = getattr(node, "item_files", None)
    return (item_files[index] if item_files else data.file), line


def _matching(root: Path, pattern: str, want_dir: bool) -> list[Path]:
    matches = sorted(Path(m).resolve() for m in glob.glob(str(root / pattern)))
    return [m for m in matches if (m.is_dir() if want_dir else m.is_file())]


def load_workspace(path: str | os.PathLike[str], texts: dict[Path, str] | None = None) -> Workspace:
    """Load and validate a workspace file and its includes; raise WorkspaceError.

    `texts` gives files' texts instead of reading them (their last good versions)."""
    path = Path(path).resolve()
    data, files = _merge_includes(path, texts=texts)
    try:
        config = WorkspaceConfig.model_validate(data)
    except ValidationError as exc:
        raise WorkspaceError(validation_problems(exc, data, path, WorkspaceConfig)) from None
    set_default_limits(config.limits.yaml())  # for the SLO, rule and playbook files it names
    root = path.parent
    problems: list[Problem] = []
    slo_files, p1 = _expand(config.slos, root, "slos", data)
    rule_files, p2 = _expand(config.rules, root, "rules", data)
    playbook_dirs, p3 = _expand(config.playbooks, root, "playbooks", data, want_dir=True)
    window_files, p4 = _expand(config.alert_windows, root, "alert_windows", data)
    canary_files, p5 = _expand(config.canaries, root, "canaries", data)
    problems += p1 + p2 + p3 + p4 + p5
    problems += _check_sources(config, data)
    if problems:
        raise WorkspaceError(problems)
    store_path = Path(config.store).expanduser()
    if not store_path.is_absolute():
        store_path = root / store_path
    return Workspace(
        path=path,
        config=config,
        store_path=store_path.resolve(),
        slo_files=slo_files,
        alert_window_files=window_files,
        rule_files=rule_files,
        playbook_dirs=playbook_dirs,
        canary_files=canary_files,
        files=files,
    )


def _check_sources(config: WorkspaceConfig, data: MarkedDict) -> list[Problem]:
    """Each source's kind names a loadable collector and its options fit that collector."""
    if not config.sources:
        return []
    loaded, broken = available_collectors(source.kind for source in config.sources)
    problems: list[Problem] = []
    for index, source in enumerate(config.sources):
        file, line = _source_place(data, index)
        key = f"sources[{index}].kind"
        if source.kind in broken:
            problems.append(
                Problem(file, line, f"collector {source.kind!r} failed to load: {broken[source.kind]}", key)
            )
            continue
        cls = loaded.get(source.kind)
        if cls is None:
            problems.append(
                Problem(file, line, f"unknown collector kind {source.kind!r}{_kind_hint(source.kind)}", key)
            )
            continue
        try:
            cls.Options.model_validate(source.options)
        except ValidationError as exc:
            problems += validation_problems(
                exc,
                data,
                data.file,
                cls.Options,
                at=("sources", index),
                unknown="unknown option",
                missing=f"missing required option for {source.kind}",
            )
    return problems


def _source_place(data: MarkedDict, index: int) -> tuple[str, int | None]:
    """Where a source's kind is written: its own file when it came from an include."""
    file, line, _ = locate(data, ("sources", index, "kind"), data.file)
    item_files = getattr(data.get("sources"), "item_files", None)
    return (item_files[index] if item_files else file), line


def _kind_hint(kind: str) -> str:
    installed = collector_kinds()
    close = difflib.get_close_matches(kind, installed, n=1)
    return f"; did you mean {close[0]!r}?" if close else f"; installed: {', '.join(installed) or 'none'}"


def build_collectors(workspace: Workspace) -> list[Any]:
    """Instantiate the workspace's enabled collectors (options already validated)."""
    loaded, _ = available_collectors(source.kind for source in workspace.config.sources)
    result = []
    for source in workspace.config.sources:
        if source.enabled:
            cls = loaded[source.kind]
            collector = cls(
                source.name, cls.Options.model_validate(source.options), base_dir=str(workspace.root)
            )
            collector.retention = workspace.config.retention.days()  # accept.past's default
            result.append(collector)
    return result
