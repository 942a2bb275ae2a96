"""YAML loading that remembers where every key and item came from (file:line)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml


class Problem(Exception):
    """One error at a place in a file: `file:line: key: message`."""

    def __init__(self, file: str | Path | None, line: int | None, message: str,
                 key: str | None = None) -> None:
        self.file, self.line, self.key, self.message = file, line, key, message
        super().__init__(str(self))

    def __str__(self) -> str:
        where = str(self.file) if self.file else "<input>"
        if self.line:
            where += f":{self.line}"
        return f"{where}: {self.key + ': ' if self.key else ''}{self.message}"


class MarkedDict(dict):
    """A mapping that knows its file, its own line, and the line of each key."""

    file: str = ""
    line: int = 0
    key_lines: dict[Any, int]


class MarkedList(list):
    """A sequence that knows its file, its own line, and the line of each item."""

    file: str = ""
    line: int = 0
    item_lines: list[int]


_BASE = getattr(yaml, "CSafeLoader", yaml.SafeLoader)   # libyaml's parser when present


def _loader(file: str) -> type[yaml.SafeLoader]:
    class Loader(_BASE):  # type: ignore[misc, valid-type]
        pass

    def construct_mapping(loader: yaml.SafeLoader, node: yaml.MappingNode) -> MarkedDict:
        loader.flatten_mapping(node)
        result = MarkedDict()
        result.file, result.line, result.key_lines = file, node.start_mark.line + 1, {}
        for key_node, value_node in node.value:
            key = loader.construct_object(key_node, deep=True)
            try:
                hash(key)
            except TypeError:
                raise Problem(file, key_node.start_mark.line + 1, "a key must be a plain value")
            if key in result:
                raise Problem(file, key_node.start_mark.line + 1,
                              f"duplicate key (first at line {result.key_lines[key]})", str(key))
            result[key] = loader.construct_object(value_node, deep=True)
            result.key_lines[key] = key_node.start_mark.line + 1
        return result

    def construct_sequence(loader: yaml.SafeLoader, node: yaml.SequenceNode) -> MarkedList:
        result = MarkedList(loader.construct_object(child, deep=True) for child in node.value)
        result.file, result.line = file, node.start_mark.line + 1
        result.item_lines = [child.start_mark.line + 1 for child in node.value]
        return result

    Loader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, construct_mapping)
    Loader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_SEQUENCE_TAG, construct_sequence)
    return Loader


def read_text(path: str | Path) -> str:
    """A config file's text; Problem if it cannot be read."""
    path = Path(path)
    try:
        return path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise Problem(path, None, "file not found") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise Problem(path, None, f"cannot read: {exc}") from None


def load_marked(path: str | Path, text: str | None = None) -> Any:
    """Load one YAML file (or `text` as if it were that file); raise Problem with file:line
    on any syntax error."""
    path = Path(path)
    if text is None:
        text = read_text(path)
    try:
        return yaml.load(text, Loader=_loader(str(path)))  # noqa: S506 - SafeLoader subclass
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark else None
        what = " ".join(x for x in (exc.context, exc.problem) if x)
        raise Problem(path, line, f"bad YAML: {what}") from None
    except yaml.YAMLError as exc:
        raise Problem(path, None, f"bad YAML: {exc}") from None


def locate(root: Any, loc: tuple[Any, ...], default_file: str | Path) -> tuple[str, int | None, str]:
    """Follow a pydantic error location into marked YAML: (file, line, dotted key)."""
    node, file, line = root, str(getattr(root, "file", "") or default_file), getattr(root, "line", None)
    names: list[str] = []
    for part in loc:
        if isinstance(node, MarkedDict) and part in node:
            file, line = node.file or file, node.key_lines.get(part, line)
            node = node[part]
            names.append(str(part))
        elif isinstance(node, MarkedList) and isinstance(part, int) and part < len(node):
            file, line = node.file or file, node.item_lines[part]
            node = node[part]
            names.append(f"[{part}]")
        else:
            if isinstance(part, str):
                names.append(part)
            break
        if isinstance(node, (MarkedDict, MarkedList)) and node.file:
            file = node.file
    dotted = ".".join(names).replace(".[", "[")
    return file, line, dotted


def plain(node: Any) -> Any:
    """Marked containers back into plain dicts and lists."""
    if isinstance(node, dict):
        return {k: plain(v) for k, v in node.items()}
    if isinstance(node, list):
        return [plain(v) for v in node]
    return node
