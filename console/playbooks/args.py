"""Typed inputs of command steps: what a templated argv element may hold (url, label, int, duration, choice).

A command step names each outside value it passes to its program under `inputs`, with a type;
an argv element that uses one is exactly `{{ inputs.NAME }}`. The value is rendered once from
`from` and checked against its type before the step runs: a value that fails is refused, so an
alert's label can never become an option (`-K…`), another protocol (`file://`) or code.
"""

from __future__ import annotations

import re
import unicodedata
from typing import Literal
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field, model_validator

from console.config.durations import parse_duration

INPUT_TYPES = ("url", "label", "int", "duration", "choice")
MAX_LENGTH = 4096
INPUT_REF = re.compile(r"^\{\{-?\s*inputs\.([A-Za-z_][A-Za-z0-9_]*)\s*-?\}\}$")
JINJA_MARKS = ("{{", "{%", "{#")
_UNSAFE_CATEGORIES = {"Cc", "Cf", "Cs", "Zl", "Zp"}
_DIGITS = re.compile(r"^[0-9]{1,18}$")
_OTHER_URL = re.compile(r"(?<![A-Za-z0-9+.-])(?!https?://)[A-Za-z][A-Za-z0-9+.-]*://", re.IGNORECASE)


class ArgumentRefused(ValueError):
    """A value that does not fit its declared type; the message says why, value shown escaped."""


class Input(BaseModel):
    """One typed input of a command step: its type, the template it comes from, its choices."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    type: Literal["url", "label", "int", "duration", "choice"]
    source: str = Field(alias="from", min_length=1)
    choices: list[str] = []

    @model_validator(mode="after")
    def _choices(self) -> Input:
        problem = self._choices_problem()
        if problem:
            raise ValueError(problem)
        return self

    def _choices_problem(self) -> str | None:
        """`choices` where the type wants them (and only there), each one a safe label."""
        if self.type == "choice" and not self.choices:
            return "a `choice` input needs `choices` (the values it may take)"
        if self.type != "choice" and self.choices:
            return f"`choices` belongs to `type: choice`, not {self.type}"
        return _bad_choice(self.choices)


def _bad_choice(choices: list[str]) -> str | None:
    """The first choice that is not a safe label, and why."""
    for choice in choices:
        problem = _label_problem(choice)
        if problem:
            return f"choice {shown(choice)} {problem}"
    return None


def shown(value: str, limit: int = 80) -> str:
    """A value as it appears in an error: quoted, escaped, cut to `limit` characters."""
    if len(value) <= limit:
        return repr(value)
    return f"{value[:limit]!r}… ({len(value)} characters)"


def is_templated(element: str) -> bool:
    """Whether an argv element holds any Jinja syntax."""
    return any(mark in element for mark in JINJA_MARKS)


def input_ref(element: str) -> str | None:
    """The input name when the element is exactly `{{ inputs.NAME }}`, else None."""
    match = INPUT_REF.match(element.strip())
    return match[1] if match and element == element.strip() else None


def _unsafe_character(value: str) -> str | None:
    for char in value:
        if unicodedata.category(char) in _UNSAFE_CATEGORIES:
            return char
    return None


def _label_problem(value: str) -> str | None:
    if not value:
        return "is empty"
    if len(value) > MAX_LENGTH:
        return f"is longer than {MAX_LENGTH} characters"
    if value.startswith("-"):
        return "starts with '-' (a program would read it as an option)"
    char = _unsafe_character(value)
    if char is not None:
        return f"holds the control character {char!r}"
    if _OTHER_URL.search(value):
        return "holds a non-http(s) URL (declare `type: url` for URLs)"
    return None


def _url_problem(value: str) -> str | None:
    return _url_text_problem(value) or _url_parts_problem(value)


def _url_text_problem(value: str) -> str | None:
    """Too long, or holding what no URL a program should get holds."""
    if len(value) > MAX_LENGTH:
        return f"is longer than {MAX_LENGTH} characters"
    if _unsafe_character(value) is not None or any(c.isspace() or c == "\\" for c in value):
        return "is not an http(s) URL (it holds spaces, backslashes or control characters)"
    return None


def _url_parts_problem(value: str) -> str | None:
    """Not http(s) with a host, credentials in it, or another URL inside it."""
    try:
        parts = urlsplit(value)
        parts.port  # noqa: B018 - raises ValueError on a malformed port
    except ValueError:
        return "is not an http(s) URL"
    if parts.scheme.lower() not in ("http", "https") or not parts.hostname:
        return "is not an http(s) URL"
    if "@" in parts.netloc:
        return "carries credentials (user:password@); put them in a file the program reads"
    if _OTHER_URL.search(value):
        return "carries a non-http(s) URL inside it"
    return None


def _int_problem(value: str) -> str | None:
    return None if _DIGITS.match(value) else "is not a whole number (digits only, at most 18)"


def _duration_problem(value: str) -> str | None:
    if not value or not value[0].isdigit() or len(value) > 64:
        return "is not a duration (e.g. 30s, 5m, 1h30m)"
    try:
        parse_duration(value)
    except ValueError:
        return "is not a duration (e.g. 30s, 5m, 1h30m)"
    return None


def check_value(spec: Input, value: str) -> str:
    """The value when it fits `spec`'s type; raise ArgumentRefused saying why not."""
    if spec.type == "choice":
        problem = None if value in spec.choices else f"is not one of {', '.join(spec.choices)}"
    else:
        problem = {
            "url": _url_problem,
            "label": _label_problem,
            "int": _int_problem,
            "duration": _duration_problem,
        }[spec.type](value)
    if problem:
        raise ArgumentRefused(f"{shown(value)} {problem}")
    return value
