"""The canaries files of a workspace, each loaded on its own with its last good version kept
(`console.runtime.lastgood.load_config` calls `load_canaries`), as SLO files are."""

from __future__ import annotations

from datetime import datetime
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING

from console.config.yamlmarks import Problem
from console.runtime.kept import Failed, FileProblem, LastGood, load_one

if TYPE_CHECKING:
    from console.canary.model import CanarySpec
    from console.config.workspace import Workspace


def load_canaries(
    workspace: Workspace, kept: LastGood, now: datetime, problems: list[FileProblem], status: dict[str, str]
) -> tuple[list[CanarySpec], dict[str, str]]:
    """The canaries in force and the file of each (by name).  A file that fails keeps its last
    good version in force and is reported in `problems`; a name already used fails the file."""
    specs: list[CanarySpec] = []
    files: dict[str, str] = {}
    if not workspace.canary_files:
        return specs, files
    from console.canary.model import CanaryFileError, load_canary_file  # PromQL: only when used

    def parse(text: str, path: Path) -> list[CanarySpec]:
        try:
            found = load_canary_file(path, text)
        except CanaryFileError as exc:
            raise Failed(exc.problems) from None
        twice = [
            Problem(path, _line(c.source), f"canary {c.name!r} is also in {files[c.name]}; rename one")
            for c in found
            if c.name in files
        ]
        if twice:
            raise Failed(twice)
        return found

    for path in workspace.canary_files:
        for spec in load_one(kept, path, "canaries", partial(parse, path=path), now, problems, status) or []:
            specs.append(spec)
            files[spec.name] = str(path)
    return specs, files


def _line(source: str) -> int | None:
    """The line of a `file:line` source, if it has one."""
    line = source.rpartition(":")[2]
    return int(line) if line.isdigit() else None
