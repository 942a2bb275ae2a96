"""Loading playbooks: one file with file:line problems, or a library of files by id."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from pydantic import ValidationError

from console.config.problems import validation_problems
from console.config.yamlmarks import MarkedDict, MarkedList, Problem, load_marked
from console.playbooks.model import Playbook

SHIPPED_DIR = Path(__file__).resolve().parents[2] / "playbooks"


class PlaybookError(Exception):
    """A playbook that did not load; `problems` names every place."""

    def __init__(self, problems: list[Problem]) -> None:
        self.problems = problems
        super().__init__("\n".join(str(p) for p in problems))


def load_playbook(path: str | Path, text: str | None = None) -> Playbook:
    """One playbook file (or `text` as that file); raise PlaybookError with file:line for
    each problem."""
    path = Path(path)
    data = _mapping(path, text)
    try:
        playbook = Playbook.model_validate(data)
    except ValidationError as exc:
        raise PlaybookError(validation_problems(exc, data, path, Playbook)) from None
    playbook.file = str(path)
    steps = data.get("steps")
    if isinstance(steps, MarkedList):
        playbook.line_of = {s.id: steps.item_lines[i] for i, s in enumerate(playbook.steps)}
    return playbook


def _mapping(path: Path, text: str | None) -> MarkedDict:
    """The file's YAML, which must be a mapping to be a playbook."""
    try:
        data = load_marked(path, text=text)
    except Problem as problem:
        raise PlaybookError([problem]) from None
    if not isinstance(data, MarkedDict):
        raise PlaybookError(
            [Problem(path, getattr(data, "line", 1), "a playbook is a mapping with id, title and steps")]
        )
    return data


def playbook_files(paths: Iterable[str | Path]) -> list[Path]:
    """Expand directories into their *.yaml / *.yml files, sorted."""
    files: list[Path] = []
    for raw in paths:
        path = Path(raw)
        files += sorted(p for p in path.glob("*.y*ml")) if path.is_dir() else [path]
    return files


def load_library(paths: Iterable[str | Path]) -> tuple[dict[str, Playbook], list[Problem]]:
    """Every playbook in these files/directories by id, and the problems of those that failed."""
    library: dict[str, Playbook] = {}
    problems: list[Problem] = []
    for path in playbook_files(paths):
        try:
            playbook = load_playbook(path)
        except PlaybookError as exc:
            problems += exc.problems
            continue
        except Problem as problem:
            problems.append(problem)
            continue
        problems += _add(library, playbook, path)
    return library, problems


def _add(library: dict[str, Playbook], playbook: Playbook, path: Path) -> list[Problem]:
    """Add the playbook to the library, unless another file has its id."""
    if playbook.id in library:
        return [
            Problem(path, 1, f"playbook id {playbook.id!r} is also used by {library[playbook.id].file}", "id")
        ]
    library[playbook.id] = playbook
    return []
