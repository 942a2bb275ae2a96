"""Label and annotation templates as Prometheus writes them: Go's text/template.

`expand` renders one template for one alert the way Prometheus's rules/alerting.go does:
`$labels`, `$externalLabels`, `$externalURL` and `$value` are defined, `.` is the alert's
data, a missing label is "", numbers print as Go prints a float64, and any failure is
the text `<error expanding template: …>` (never an exception).  `check` is the parse
Prometheus does when it loads a rule file.  The parser and executor are our own
(gotemplate_lex, _parse, _exec, _fmt, _funcs): no code runs but the declared functions,
no Python attribute is reachable, and output, steps, range iterations, nesting and
`query` calls are bounded.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from datetime import datetime

from console.rules.gotemplate_exec import Context, ExecError, Limits, QueryFunc, State
from console.rules.gotemplate_fmt import Struct
from console.rules.gotemplate_funcs import NAMES
from console.rules.gotemplate_lex import TemplateSyntaxError
from console.rules.gotemplate_parse import Node, Parser

__all__ = ["Limits", "QueryFunc", "TemplateSyntaxError", "check", "expand"]

VARIABLES = ("$labels", "$externalLabels", "$externalURL", "$value")
_DATA_TYPE = (
    "struct { Labels map[string]string; ExternalLabels map[string]string; "
    "ExternalURL string; Value interface {} }"
)


@functools.lru_cache(maxsize=4096)
def parse(text: str) -> list[Node]:
    """The template's tree; TemplateSyntaxError (with line and column) if it does not parse."""
    return Parser(text, NAMES, VARIABLES).parse()


def check(text: str) -> TemplateSyntaxError | None:
    """Why `text` is not a template Prometheus would load, or None."""
    try:
        parse(text)
    except TemplateSyntaxError as exc:
        return exc
    return None


def expand(
    text: str,
    labels: Mapping[str, str],
    value: float | None,
    *,
    external_labels: Mapping[str, str] | None = None,
    external_url: str = "",
    query: QueryFunc | None = None,
    now: datetime | None = None,
    limits: Limits | None = None,
) -> str:
    """One label or annotation of one alert; a failure is `<error expanding template: …>`.

    `query(expr)` answers the template function `query` with (labels, value) rows; without
    it, a template that calls `query` expands to the error text."""
    try:
        tree = parse(text)
    except TemplateSyntaxError as exc:
        return f"<error expanding template: error parsing template: {exc}>"
    labels = dict(labels)
    external = dict(external_labels or {})
    data = Struct(
        _DATA_TYPE,
        {"Labels": labels, "ExternalLabels": external, "ExternalURL": external_url, "Value": value},
    )
    variables = {
        "$labels": labels,
        "$externalLabels": external,
        "$externalURL": external_url,
        "$value": value,
    }
    state = State(text, data, variables, Context(query, now, external_url, limits or Limits()))
    try:
        state.walk(data, tree)
    except ExecError as exc:
        return f"<error expanding template: error executing template: {exc}>"
    except Exception as exc:  # noqa: BLE001 - an untrusted template must never break an evaluation
        return f"<error expanding template: internal error: {type(exc).__name__}: {exc}>"
    return "".join(state.out)
