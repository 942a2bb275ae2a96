"""Loading playbooks: one file with file:line problems, or a library of files by id."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from console.config.yamlmarks import MarkedDict, MarkedList, Problem, load_marked, locate
from console.playbooks.model import Playbook

SHIPPED_DIR = Path(__file__).resolve().parents[2] / "playbooks"


class PlaybookError(Exception):
    """A playbook that did not load; `problems` names every place."""

    def __init__(self, problems: list[Problem]) -> None:
        self.problems = problems
        super().__init__("\n".join(str(p) for p in problems))


def _problem_from(error: dict[str, Any], data: Any, path: Path) -> Problem:
    file, line, key = locate(data, tuple(error["loc"]), path)
    message = error["msg"].removeprefix("Value error, ")
    if error["type"] == "extra_forbidden":
        message = "unknown key"
    elif error["type"] == "literal_error":
        message = f"{message} (got {error.get('input')!r})"
    return Problem(file, line, message, key or None)


def load_playbook(path: str | Path, text: str | None = None) -> Playbook:
    """One playbook file (or `text` as that file); raise PlaybookError with file:line for
    each problem."""
    path = Path(path)
    try:
        data = load_marked(path, text=text)
    except Problem as problem:
        raise PlaybookError([problem]) from None
    if not isinstance(data, MarkedDict):
        raise PlaybookError(
            [Problem(path, getattr(data, "line", 1), "a playbook is a mapping with id, title and steps")]
        )
    try:
        playbook = Playbook.model_validate(data)
    except ValidationError as exc:
        raise PlaybookError([_problem_from(e, data, path) for e in exc.errors()]) from None  # type: ignore[arg-type]  # untyped row or union left for the drift/incidents/playbooks pass
    playbook.file = str(path)
    steps = data.get("steps")
    if isinstance(steps, MarkedList):
        playbook.line_of = {s.id: steps.item_lines[i] for i, s in enumerate(playbook.steps)}
    return playbook


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
        if playbook.id in library:
            problems.append(
                Problem(
                    path, 1, f"playbook id {playbook.id!r} is also used by {library[playbook.id].file}", "id"
                )
            )
            continue
        library[playbook.id] = playbook
    return library, problems
