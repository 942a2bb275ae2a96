"""The one YAML loader: bounded (bytes, nodes as aliases expand them, nesting), and keeping
where every key and item came from (file:line)."""

from __future__ import annotations

import stat
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from yaml.events import AliasEvent, MappingStartEvent, ScalarEvent, SequenceStartEvent, StreamEndEvent
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode


class Problem(Exception):
    """One error at a place in a file: `file:line: key: message`."""

    def __init__(
        self, file: str | Path | None, line: int | None, message: str, key: str | None = None
    ) -> None:
        self.file, self.line, self.key, self.message = file, line, key, message
        super().__init__(str(self))

    def relative_to(self, root: str | Path | None) -> str:
        """`file:line: message` with the file relative to `root` when it lies inside it."""
        file = self.file
        if root is not None and file is not None and Path(file).is_relative_to(root):
            file = Path(file).relative_to(root)
        return str(Problem(file, self.line, self.message, self.key))

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
    item_files: list[str]  # set on a merged list whose items came from several files


_BASE = getattr(yaml, "CSafeLoader", yaml.SafeLoader)  # libyaml's parser when present


def _loader(file: str) -> type[yaml.SafeLoader]:
    class Loader(_BASE):  # type: ignore[misc, valid-type]
        pass

    def checked(construct: Any) -> Any:
        """A scalar constructor whose ValueError (5,000 digits, month 13) is a Problem."""

        def construct_checked(loader: yaml.SafeLoader, node: ScalarNode) -> Any:
            try:
                return construct(loader, node)
            except ValueError as exc:
                raise Problem(
                    file,
                    node.start_mark.line + 1,
                    f"cannot read {node.value[:40]!r}: {str(exc).split(';')[0]}",
                ) from None

        return construct_checked

    def construct_mapping(loader: yaml.SafeLoader, node: yaml.MappingNode) -> MarkedDict:
        loader.flatten_mapping(node)
        result = MarkedDict()
        result.file, result.line, result.key_lines = file, node.start_mark.line + 1, {}
        for key_node, value_node in node.value:
            key = loader.construct_object(key_node, deep=True)
            try:
                hash(key)
            except TypeError:
                raise Problem(file, key_node.start_mark.line + 1, "a key must be a plain value") from None
            if key in result:
                raise Problem(
                    file,
                    key_node.start_mark.line + 1,
                    f"duplicate key (first at line {result.key_lines[key]})",
                    str(key),
                )
            result[key] = loader.construct_object(value_node, deep=True)
            result.key_lines[key] = key_node.start_mark.line + 1
        return result

    def construct_sequence(loader: yaml.SafeLoader, node: yaml.SequenceNode) -> MarkedList:
        result = MarkedList(loader.construct_object(child, deep=True) for child in node.value)
        result.file, result.line = file, node.start_mark.line + 1
        result.item_lines = [child.start_mark.line + 1 for child in node.value]
        return result

    for tag in ("tag:yaml.org,2002:int", "tag:yaml.org,2002:timestamp"):
        Loader.add_constructor(tag, checked(_BASE.yaml_constructors[tag]))
    Loader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, construct_mapping)
    Loader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_SEQUENCE_TAG, construct_sequence)
    return Loader


@dataclass(frozen=True)
class YamlLimits:
    """How big a YAML file may be: bytes on disk, nodes as aliases expand them, nesting depth."""

    max_bytes: int = 10_000_000
    max_nodes: int = 100_000
    max_depth: int = 100
    how_to_raise: str = "to raise it for the files a workspace names, set `limits: {%s: N}` in oncall.yaml"


# The workspace file and its includes are read before any `limits:` can apply.
WORKSPACE_LIMITS = YamlLimits(
    how_to_raise="oncall.yaml and its includes always have this "
    "limit (`limits: {%s: N}` is for the files they name)"
)
_default = YamlLimits()


def set_default_limits(limits: YamlLimits) -> None:
    """The limits for files loaded without explicit ones (load_workspace sets the workspace's)."""
    global _default
    _default = limits


def _read_bounded(path: Path, limits: YamlLimits) -> str:
    """The file's text, refusing it unread when it is over the size limit."""
    too_big = (
        f"over the YAML size limit of {limits.max_bytes:,} bytes; " + limits.how_to_raise % "yaml_max_bytes"
    )
    try:
        return _read_limited(path, limits, too_big).decode("utf-8")
    except FileNotFoundError:
        raise Problem(path, None, "file not found") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise Problem(path, None, f"cannot read: {exc}") from None


def _read_limited(path: Path, limits: YamlLimits, too_big: str) -> bytes:
    info = path.stat()
    if not stat.S_ISREG(info.st_mode):  # a FIFO or a device would block or never end
        raise Problem(path, None, "not a regular file")
    size = info.st_size
    if size > limits.max_bytes:
        raise Problem(path, 1, f"file is {size:,} bytes, " + too_big)
    with path.open("rb") as stream:  # no further, should it grow meanwhile
        raw = stream.read(limits.max_bytes + 1)
    if len(raw) > limits.max_bytes:
        raise Problem(path, 1, "file is " + too_big)
    return raw


def compose_bounded(loader: Any, file: str, limits: YamlLimits, single: bool = False) -> list[Node]:
    """Compose each document's node graph from the parser's events, refusing it as soon as
    aliases would expand it past `limits.max_nodes` nodes or `limits.max_depth` collections
    nested in each other.

    An anchored node's expanded size and height are kept when it closes, so an alias costs
    one lookup however much it expands to; nothing is constructed before the check.
    """
    documents: list[Node] = []
    composer = _Composer(loader, file, limits)
    loader.get_event()  # StreamStartEvent
    while not loader.check_event(StreamEndEvent):
        start = loader.get_event()
        if single and documents:
            raise Problem(
                file,
                start.start_mark.line + 1,
                "bad YAML: expected a single document, found another (a `---` line?)",
            )
        root = composer.document()
        loader.get_event()  # DocumentEndEvent
        documents.append(root)
    return documents


class _Composer:
    """Composes the documents of one stream; the node count runs across all of them."""

    def __init__(self, loader: Any, file: str, limits: YamlLimits) -> None:
        self.loader, self.file, self.limits = loader, file, limits
        self.resolved: dict[tuple[str, Any], str] = {}  # keys and values repeat: resolve each once
        self.total = 0
        self.anchors: dict[str, Node] = {}
        self.expanded: dict[str, tuple[int, int]] = {}  # anchor -> (nodes, collection levels)
        self.stack: list[list[Any]] = []  # open collections: [node, nodes, levels, key, anchor]

    def document(self) -> Node:
        """The next document's root node (its start event already read)."""
        self.anchors, self.expanded, self.stack = {}, {}, []
        while True:
            event = self.loader.get_event()
            kind = type(event)
            if kind is SequenceStartEvent or kind is MappingStartEvent:
                self._open(event, SequenceNode if kind is SequenceStartEvent else MappingNode)
                continue
            node, size, levels = self._node(event, kind)
            if not self.stack:
                return node
            self._attach(node, size, levels)

    def _node(self, event: Any, kind: type) -> tuple[Node, int, int]:
        """The node a scalar, an alias or a collection's end completes, its size and height."""
        if kind is ScalarEvent:
            return self._scalar(event)
        if kind is AliasEvent:
            return self._alias(event)
        return self._close(event)  # the end of a collection

    def _count(self, event: Any, nodes: int, depth: int) -> None:
        self.total += nodes
        if self.total > self.limits.max_nodes or depth > self.limits.max_depth:
            _refuse(self.file, event, self.total, depth, self.limits)

    def _scalar(self, event: Any) -> tuple[Node, int, int]:
        tag = event.tag
        if tag is None or tag == "!":
            key = (event.value, event.implicit)
            tag = self.resolved.get(key)
            if tag is None:
                tag = self.resolved[key] = self.loader.resolve(ScalarNode, *key)
        node = ScalarNode(tag, event.value, event.start_mark, event.end_mark, style=event.style)
        if event.anchor:
            _anchor(self.file, self.anchors, event, node)
            self.expanded[event.anchor] = (1, 0)
        self._count(event, 1, 0)  # depth counts collections
        return node, 1, 0

    def _open(self, event: Any, cls: type[SequenceNode] | type[MappingNode]) -> None:
        tag = event.tag
        if tag is None or tag == "!":
            tag = self.loader.resolve(cls, None, event.implicit)
        node = cls(tag, [], event.start_mark, None, flow_style=event.flow_style)
        if event.anchor:
            _anchor(self.file, self.anchors, event, node)
        self.stack.append([node, 1, 1, None, event.anchor])
        self._count(event, 1, len(self.stack))

    def _alias(self, event: Any) -> tuple[Node, int, int]:
        node = self.anchors.get(event.anchor)
        if node is None:
            raise Problem(
                self.file,
                event.start_mark.line + 1,
                f"bad YAML: alias *{event.anchor} names no anchor above it",
            )
        if event.anchor not in self.expanded:
            raise Problem(
                self.file,
                event.start_mark.line + 1,
                f"alias *{event.anchor} is inside its own anchor (a recursive "
                "structure), which a config file cannot be",
            )
        size, levels = self.expanded[event.anchor]
        self._count(event, size, len(self.stack) + levels)
        return node, size, levels

    def _close(self, event: Any) -> tuple[Node, int, int]:
        node, size, levels, _, anchor = self.stack.pop()
        node.end_mark = event.end_mark
        if anchor:
            self.expanded[anchor] = (size, levels)
        return node, size, levels

    def _attach(self, node: Node, size: int, levels: int) -> None:
        """Add a closed node to the collection it is in: an item, a key, or a key's value."""
        parent = self.stack[-1]
        parent[1] += size
        if levels >= parent[2]:
            parent[2] = levels + 1
        if type(parent[0]) is SequenceNode:
            parent[0].value.append(node)
        elif parent[3] is None:
            parent[3] = node
        else:
            parent[0].value.append((parent[3], node))
            parent[3] = None


def _anchor(file: str, anchors: dict[str, Node], event: Any, node: Node) -> None:
    """Name a node by its anchor; YAML (and libyaml's composer) refuse one name twice."""
    first = anchors.get(event.anchor)
    if first is not None:
        raise Problem(
            file,
            event.start_mark.line + 1,
            f"bad YAML: anchor &{event.anchor} is defined twice (first at line {first.start_mark.line + 1})",
        )
    anchors[event.anchor] = node


def _refuse(file: str, event: Any, nodes: int, depth: int, limits: YamlLimits) -> None:
    """Raise Problem at the event's line naming the limit it crossed."""
    line = event.start_mark.line + 1
    if nodes > limits.max_nodes:
        raise Problem(
            file,
            line,
            f"YAML expands past the limit of {limits.max_nodes:,} nodes "
            "here (an alias counts as all it repeats); " + limits.how_to_raise % "yaml_max_nodes",
        )
    raise Problem(
        file,
        line,
        f"YAML nests deeper than the limit of {limits.max_depth} levels "
        "here; " + limits.how_to_raise % "yaml_max_depth",
    )


def read_text(path: str | Path, limits: YamlLimits | None = None) -> str:
    """A config file's text within the size limit; Problem if it cannot be read."""
    return _read_bounded(Path(path), limits or _default)


def load_marked(path: str | Path, limits: YamlLimits | None = None, *, text: str | None = None) -> Any:
    """Load one YAML file (or `text` as if it were that file) within limits; raise Problem
    with file:line on any error."""
    documents = _load(Path(path), limits, single=True, text=text)
    return documents[0] if documents else None


def load_marked_all(
    path: str | Path, limits: YamlLimits | None = None, *, text: str | None = None
) -> list[Any]:
    """Every document of a YAML file (or `text` as that file; `---`-separated), within limits,
    as marked values."""
    return _load(Path(path), limits, single=False, text=text)


def _load(path: Path, limits: YamlLimits | None, single: bool, text: str | None = None) -> list[Any]:
    """Read, compose within limits, then construct each document."""
    limits = limits or _default
    if text is None:
        text = _read_bounded(path, limits)
    loader = _loader(str(path))(text)
    try:
        nodes = compose_bounded(loader, str(path), limits, single=single)
        return [loader.construct_document(node) for node in nodes]
    except yaml.MarkedYAMLError as exc:
        raise _bad_yaml(path, exc) from None
    except yaml.YAMLError as exc:
        raise Problem(path, None, f"bad YAML: {exc}") from None
    finally:
        loader.dispose()


def _bad_yaml(path: Path, exc: yaml.MarkedYAMLError) -> Problem:
    mark = exc.problem_mark or exc.context_mark
    line = mark.line + 1 if mark else None
    what = " ".join(x for x in (exc.context, exc.problem) if x)
    return Problem(path, line, f"bad YAML: {what}")


def locate(root: Any, loc: tuple[Any, ...], default_file: str | Path) -> tuple[str, int | None, str]:
    """Follow a pydantic error location into marked YAML: (file, line, dotted key)."""
    node, file, line = root, str(getattr(root, "file", "") or default_file), getattr(root, "line", None)
    names: list[str] = []
    for part in loc:
        step = _step(node, part, file, line)
        if step is None:
            if isinstance(part, str):
                names.append(part)
            break
        node, file, line, name = step
        names.append(name)
        if isinstance(node, (MarkedDict, MarkedList)) and node.file:
            file = node.file
    dotted = ".".join(names).replace(".[", "[")
    return file, line, dotted


def _step(node: Any, part: Any, file: str, line: int | None) -> tuple[Any, str, int | None, str] | None:
    """One part of a location down from `node`: (child, file, line, name); None past the YAML."""
    if isinstance(node, MarkedDict) and part in node:
        return node[part], node.file or file, node.key_lines.get(part, line), str(part)
    if isinstance(node, MarkedList) and isinstance(part, int) and part < len(node):
        return node[part], node.file or file, node.item_lines[part], f"[{part}]"
    return None


def plain(node: Any) -> Any:
    """Marked containers back into plain dicts and lists."""
    if isinstance(node, dict):
        return {k: plain(v) for k, v in node.items()}
    if isinstance(node, list):
        return [plain(v) for v in node]
    return node
