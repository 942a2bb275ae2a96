"""Pydantic validation errors as `file:line: key: message` problems in marked YAML.

One translation for every file the console reads, so the same mistake reads the same way:
an unknown key suggests the closest known one, a wrong value shows what was read.
"""

from __future__ import annotations

import difflib
from pathlib import Path
from typing import Any, get_args, get_origin

from pydantic import BaseModel, ValidationError
from pydantic_core import ErrorDetails

from console.config.yamlmarks import MarkedDict, MarkedList, Problem, locate
from console.core.secrets import redact, secret_option


def did_you_mean(word: str, choices: list[str]) -> str:
    """The suffix of an "unknown key" message: the closest choice, or all of them."""
    close = difflib.get_close_matches(word, choices, n=1, cutoff=0.6)
    return f"; did you mean {close[0]!r}?" if close else f"; known keys: {', '.join(sorted(choices))}"


def fields_at(model: Any, loc: tuple[Any, ...]) -> list[str]:
    """The field names of the model found at `loc` under `model` (list indexes and the keys of
    a `dict[str, Model]` skipped)."""
    for part in loc:
        if isinstance(part, int):
            continue
        if get_origin(model) is dict:  # `part` is a key of the mapping: go to its values' model
            model = _inner(get_args(model)[-1])
            continue
        info = getattr(model, "model_fields", {}).get(part)
        if info is None:
            return []
        model = _inner(info.annotation)
    return list(getattr(model, "model_fields", {}))


def _inner(annotation: Any) -> Any:
    """`X` of `list[X]` or `X | None`; a mapping or a plain annotation as it is."""
    if get_origin(annotation) is dict:
        return annotation
    inner = get_args(annotation)
    return _inner(inner[0]) if inner else annotation


def invalid_value(error: ErrorDetails) -> str:
    """A value of the wrong kind: pydantic's words, what was read, and YAML's usual trap."""
    got = error.get("input")
    words = str(error["msg"]).removeprefix("Value error, ")
    if error["type"] == "value_error" and isinstance(got, (dict, list)):
        return words  # a model's validator: its words say what is wrong
    shown = redact(_shown(error, got))
    message = (
        words if isinstance(got, str) and shown in words else f"{words} (got {shown})"
    )  # said once, not twice
    if isinstance(got, bool) and error["type"] == "string_type":
        message += "; YAML reads yes/no/on/off/true/false as booleans: quote the value"
    return message


def _shown(error: ErrorDetails, got: Any) -> str:
    """What was read, as the message shows it: a container by its kind, a credential not at all."""
    if isinstance(got, (dict, list)):
        return type(got).__name__
    if any(map(secret_option, error.get("loc", ()))):
        return "a value not shown: it is a credential"
    return repr(got)


def _item_file(data: MarkedDict, loc: tuple[Any, ...]) -> str | None:
    """Items merged in from an include report their own file."""
    if len(loc) < 2 or not isinstance(loc[1], int) or not isinstance(data.get(loc[0]), MarkedList):
        return None
    item_files = getattr(data[loc[0]], "item_files", None)
    return item_files[loc[1]] if item_files and loc[1] < len(item_files) else None


def _message(
    error: ErrorDetails, loc: tuple[Any, ...], model: type[BaseModel], unknown: str, missing: str
) -> str:
    """What one error says; `loc` is where it is in the whole file."""
    if error["type"] == "extra_forbidden":
        return unknown + did_you_mean(str(loc[-1]), fields_at(model, tuple(error["loc"][:-1])))
    if error["type"] == "missing":
        return missing
    return invalid_value(error)


def validation_problems(
    exc: ValidationError,
    data: MarkedDict,
    default_file: str | Path,
    model: type[BaseModel],
    *,
    at: tuple[Any, ...] = (),
    unknown: str = "unknown key",
    missing: str = "missing required key",
) -> list[Problem]:
    """One problem per error of validating `model` against `data[at]`, located in the YAML.

    `unknown` and `missing` name what the keys are (keys of a file, options of a source)."""
    problems = []
    for error in exc.errors():
        loc = (*at, *error["loc"])
        file, line, dotted = locate(data, loc, default_file)
        message = _message(error, loc, model, unknown, missing)
        problems.append(Problem(_item_file(data, loc) or file, line, message, dotted or None))
    return problems
