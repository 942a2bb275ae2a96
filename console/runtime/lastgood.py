"""Last good configuration: every config file loads on its own, and one that fails keeps its
last good version in force.

Prometheus keeps its last good rule files when a reload fails; we do the same for every file
a workspace names (the workspace and its includes, rule files, SLO files, playbooks), and
keep the last good text of each in the store (`config_files`) so it survives restarts.  A
file that fails with no last good version contributes nothing, and the alerts of its rules
keep their stored state, marked stale: nothing resolves because a file failed to load.  An
alert resolves only when its condition is false, or when its rule was removed from a file
that loads ("rule removed from FILE").
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field, replace
from datetime import datetime
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any

from console.config.workspace import Workspace, WorkspaceError, find_workspace, load_workspace
from console.config.yamlmarks import WORKSPACE_LIMITS, Problem, read_text
from console.core.private import write_private
from console.runtime.canary_files import load_canaries
from console.runtime.kept import Failed, FileProblem, LastGood, load_one

if TYPE_CHECKING:
    from console.canary.model import CanarySpec
    from console.playbooks.model import Playbook
    from console.rules.loading import RuleSet
    from console.rules.matchers import InhibitRule
    from console.rules.model import Rule
    from console.slo.status import SLO
    from console.slo.windows import WindowSpec
    from console.store import Store

META_GROUP = "oncall-meta"
CONFIG_INVALID = "OncallConfigInvalid"
RULE_FAILING = "OncallRuleFailing"
STATE_DIR = ".oncall"
POINTER = "workspace.json"  # in the state directory: where the last good workspace is kept


# -- the whole configuration -----------------------------------------------------------


@dataclass
class Config:
    """What is in force: the workspace's rules, SLOs and playbooks, and what failed to load."""

    workspace: Workspace
    rules: list[Rule] = field(default_factory=list)  # from rule files
    inhibit_rules: list[InhibitRule] = field(default_factory=list)
    slos: list[SLO] = field(default_factory=list)
    slo_files: dict[str, str] = field(default_factory=dict)  # SLO name -> file
    playbooks: dict[str, Playbook] = field(default_factory=dict)
    canaries: list[CanarySpec] = field(default_factory=list)
    canary_files: dict[str, str] = field(default_factory=dict)  # canary name -> file
    problems: list[FileProblem] = field(default_factory=list)
    status: dict[str, str] = field(default_factory=dict)  # file -> current | last-good | failed
    signature: tuple[Any, ...] = ()
    rule_keys: set[str] = field(default_factory=set)  # of all_rules(), once it ran

    def lines(self, root: str | Path | None = None) -> list[str]:
        """Every problem, one line each (the banner, `oncall check`, stderr of commands)."""
        return [line for problem in self.problems for line in problem.lines(root)]

    def all_rules(self) -> list[Rule]:
        """Rule files' rules, the rules the workspace implies, and the meta-alerts."""
        from console.rules.loading import generated_rules
        from console.runtime.canaries import canary_rules

        rules = self.rules + generated_rules(self.workspace, self.slos, self.slo_files) + meta_rules(self)
        rules += canary_rules(self)
        self.rule_keys = {rule.key for rule in rules}
        return rules

    def orphan_reason(self, rule_key: str, file: str | None) -> str | None:
        """Why an alert whose rule is gone may resolve, or None to keep it (its file failed)."""
        if file is None:
            failed = [f for f, s in self.status.items() if s == "failed"]
            return None if failed else "rule removed"
        state = self.status.get(file)
        if state == "failed":
            return None
        if state is None:
            return f"rule file {file} no longer in the workspace"
        return f"rule removed from {file}"


def meta_rules(config: Config) -> list[Rule]:
    """`OncallConfigInvalid` per file that does not load; `OncallRuleFailing` per rule whose
    evaluation fails.  They go through the normal alert path (and so to Alertmanager)."""
    from console.rules.model import Computed, Rule

    invalid_key = f"{META_GROUP}/{CONFIG_INVALID}"
    failing_key = f"{META_GROUP}/{RULE_FAILING}"

    def invalid(store: Store, now: datetime) -> dict[str, list[tuple[dict[str, str], float]]]:
        return {
            invalid_key: [
                ({"file": p.file, "kind": p.kind, "in_force": "last_good" if p.last_good_at else "none"}, 1.0)
                for p in config.problems
            ]
        }

    def failing(store: Store, now: datetime) -> dict[str, list[tuple[dict[str, str], float]]]:
        rows = store.query(
            "SELECT rule, source FROM rule_state WHERE health = 'error' AND rule <> ? ORDER BY rule",
            [failing_key],
        )[1]
        return {
            failing_key: [
                ({"rule": rule, "rule_source": source}, 1.0)
                for rule, source in rows
                if rule in config.rule_keys
            ]
        }

    path = str(config.workspace.path)
    return [
        Rule(
            CONFIG_INVALID,
            Computed("config-invalid", invalid),
            group=META_GROUP,
            labels={"severity": "ticket"},
            source="oncall",
            file=path,
            annotations={
                "summary": "{{ $labels.file }} does not load; "
                '{{ if eq $labels.in_force "last_good" }}its last good version '
                "is still in force{{ else }}nothing from it is in force"
                "{{ end }}",
                "description": "Run `oncall check` for the file:line and what to do.",
            },
            templates="go",
        ),
        Rule(
            RULE_FAILING,
            Computed("rule-failing", failing),
            group=META_GROUP,
            labels={"severity": "ticket"},
            source="oncall",
            file=path,
            annotations={
                "summary": "rule {{ $labels.rule }} fails to evaluate; its alerts keep their state",
                "description": "Run `oncall rules` for the error.",
            },
            templates="go",
        ),
    ]


def _signature(paths: list[Path]) -> tuple[Any, ...]:
    """What changes when any of these files changes: (path, mtime, size), missing ones too."""
    out: list[Any] = []
    for path in paths:
        try:
            stat = path.stat()
            out.append((str(path), stat.st_mtime_ns, stat.st_size))
        except OSError:
            out.append((str(path), None, None))
    return tuple(out)


def config_changed(config: Config) -> bool:
    """Whether a file of the configuration changed since it was loaded (a few stat calls)."""
    return _signature(config_paths(config.workspace)) != config.signature


def config_paths(workspace: Workspace) -> list[Path]:
    """Every file whose change means loading the configuration again."""
    import glob

    from console.playbooks.loading import playbook_files

    named = set(workspace.rule_files) | set(workspace.slo_files) | set(workspace.alert_window_files)
    named |= set(workspace.canary_files)
    config = workspace.config
    for pattern in [*config.rules, *config.slos, *config.alert_windows, *config.canaries]:
        named |= {Path(m).resolve() for m in glob.glob(str(workspace.root / pattern))}
    return list(workspace.files) + sorted(named) + playbook_files(workspace.playbook_dirs)


def reload_workspace(current: Workspace, store: Store | None) -> Workspace:
    """The workspace loaded again; if it no longer loads, `current` stays in force, marked so."""
    try:
        return load_workspace(current.path)
    except WorkspaceError as error:
        if current.last_good is not None:
            current.last_good.problems = error.problems
            return current
        kept = LastGood(store).get(current.path)
        failing = error.problems[0].file if error.problems else current.path
        return replace(
            current,
            last_good=FileProblem(
                str(failing or current.path), "workspace", error.problems, kept.loaded_at if kept else None
            ),
        )


def load_config(workspace: Workspace, store: Store | None, now: datetime) -> Config:
    """Load every file of the workspace on its own, each falling back to its last good version
    kept in `store` (None: a workspace with no store yet has none)."""
    from console.slo.model import SLOFileError, load_slo_file

    kept = LastGood(store)
    config = Config(workspace, signature=_signature(config_paths(workspace)))
    _keep_workspace(workspace, store, kept, now, config)

    def rules(text: str, path: Path) -> RuleSet:
        from console.rules.loading import load_rule_file  # jinja2, re2, PromQL: only for rule files

        loaded = load_rule_file(path, text=text, check_sql=False)  # SQL fails at evaluation
        if loaded.failed:
            raise Failed(loaded.problems)
        return loaded

    for path in workspace.rule_files:
        loaded = load_one(kept, path, "rules", partial(rules, path=path), now, config.problems, config.status)
        if loaded is not None:
            config.rules += loaded.rules
            config.inhibit_rules += loaded.inhibit_rules

    windows = _load_alert_windows(workspace, kept, now, config)

    def slos(text: str, path: Path) -> list[SLO]:
        try:
            found = load_slo_file(path, text, windows)
        except SLOFileError as exc:
            raise Failed(exc.problems) from None
        twice = [s for s in found if s.name in config.slo_files]
        if twice:
            raise Failed(
                [
                    Problem(
                        path,
                        None,
                        f"SLO {s.name!r} is also defined in {config.slo_files[s.name]}; rename one",
                    )
                    for s in twice
                ]
            )
        return found

    for path in workspace.slo_files:
        found = load_one(kept, path, "slos", partial(slos, path=path), now, config.problems, config.status)
        for slo in found or []:
            config.slos.append(slo)
            config.slo_files[slo.name] = str(path)
    config.playbooks = _load_playbooks(workspace, kept, now, config)
    config.canaries, config.canary_files = load_canaries(workspace, kept, now, config.problems, config.status)
    return config


def _load_alert_windows(
    workspace: Workspace, kept: LastGood, now: datetime, config: Config
) -> dict[str, WindowSpec]:
    """The workspace's alert-windows specs by name (each file on its own, like the others)."""
    from console.slo.windows import WindowFileError, load_window_file

    def parse(text: str, path: Path) -> list[WindowSpec]:
        try:
            return load_window_file(path, text)
        except WindowFileError as exc:
            raise Failed(exc.problems) from None

    specs: dict[str, WindowSpec] = {}
    for path in workspace.alert_window_files:
        found = load_one(
            kept, path, "alert_windows", partial(parse, path=path), now, config.problems, config.status
        )
        for spec in found or []:
            if spec.name in specs:
                file, _, line = spec.source.rpartition(":")
                message = f"alert windows {spec.name!r} are also in {specs[spec.name].source}; rename one"
                config.problems.append(
                    FileProblem(file, "alert_windows", [Problem(file, int(line), message)], None)
                )
                continue
            specs[spec.name] = spec
    return specs


def _keep_workspace(
    workspace: Workspace, store: Store | None, kept: LastGood, now: datetime, config: Config
) -> None:
    """A workspace that loaded is kept as the last good one; one that did not says so."""
    if workspace.last_good is not None:
        config.problems.append(workspace.last_good)
        for file in workspace.files:
            config.status[str(file)] = "last-good"
        return
    for file in workspace.files:
        kept.keep(file, "workspace", read_text(file, WORKSPACE_LIMITS), now)
        config.status[str(file)] = "current"
    _write_pointer(workspace, store)


def _load_playbooks(
    workspace: Workspace, kept: LastGood, now: datetime, config: Config
) -> dict[str, Playbook]:
    from console.playbooks.loading import PlaybookError, load_playbook, playbook_files
    from console.screens.incident import library_dirs

    def parse(text: str, path: Path) -> Playbook:
        try:
            return load_playbook(path, text)
        except PlaybookError as exc:
            raise Failed(exc.problems) from None

    library: dict[str, Playbook] = {}
    for path in playbook_files(library_dirs(workspace)):
        playbook = load_one(
            kept, path, "playbooks", partial(parse, path=path), now, config.problems, config.status
        )
        if playbook is None:
            continue
        if playbook.id in library:
            config.problems.append(
                FileProblem(
                    str(path),
                    "playbooks",
                    [
                        Problem(
                            path,
                            1,
                            f"playbook id {playbook.id!r} is also used by "
                            f"{library[playbook.id].file}; rename one",
                            "id",
                        )
                    ],
                )
            )
            continue
        library[playbook.id] = playbook
    return library


# -- the workspace file itself -----------------------------------------------------------


def state_dir(workspace_path: Path) -> Path:
    """The workspace's state directory (0700): logs and where its last good version is kept."""
    return workspace_path.parent / STATE_DIR


def _write_pointer(workspace: Workspace, store: Store | None) -> None:
    """Note where this workspace's store is, so a broken oncall.yaml can still find it."""
    if store is None or store.read_only:
        return
    pointer = state_dir(workspace.path) / POINTER
    text = json.dumps({"workspace": str(workspace.path), "store": str(workspace.store_path)})
    try:
        if pointer.is_file() and pointer.read_text(encoding="utf-8") == text:
            return
        write_private(pointer, text)
    except OSError:
        pass  # a read-only directory: the last good workspace is then only in the store


def open_workspace(explicit: str | os.PathLike[str] | None = None) -> Workspace:
    """Find and load the workspace; if it fails to load, its last good version (with
    `last_good` saying what is wrong), or WorkspaceError when there is none."""
    path = find_workspace(explicit)
    try:
        return load_workspace(path)
    except WorkspaceError as error:
        fallback = _last_good_workspace(path, error)
        if fallback is None:
            raise
        return fallback


def _kept_workspace_texts(path: Path) -> tuple[dict[Path, str], datetime | None] | None:
    """The workspace files' last good texts and when the oldest was kept, from the store the
    pointer names; None when there is no pointer or no store to read."""
    from console.store import Store, StoreError

    pointer = state_dir(path) / POINTER
    try:
        store_path = Path(json.loads(pointer.read_text(encoding="utf-8"))["store"])
    except (OSError, ValueError, KeyError, TypeError):
        return None  # never loaded (or no pointer): the error stands
    if not store_path.is_file():
        return None
    try:
        store = Store.open_read(store_path)
    except StoreError:
        return None
    try:
        kept = LastGood(store).of_kind("workspace")
        texts = {Path(p): k.text for p, k in kept.items()}
        oldest = min((k.loaded_at for k in kept.values()), default=None)
    finally:
        store.close()
    return texts, oldest


def _last_good_workspace(path: Path, error: WorkspaceError) -> Workspace | None:

    found = _kept_workspace_texts(path)
    if found is None:
        return None
    texts, oldest = found
    if path not in texts:
        return None
    try:
        workspace = load_workspace(path, texts)
    except WorkspaceError:
        return None
    failing = error.problems[0].file if error.problems else path
    workspace.last_good = FileProblem(str(failing or path), "workspace", error.problems, oldest)
    return workspace
