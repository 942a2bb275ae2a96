"""Hostile label and annotation values, and a local HTTP server, for the playbook security tests."""

from __future__ import annotations

import contextlib
import re

from hypothesis import strategies as st
from jinja2 import nodes

from console.playbooks.model import TEMPLATES, Playbook
from tests.local_http import serve

HOSTILE = [
    "-K/some/file",
    "-K",
    "/some/file",
    "-o",
    "pwned",
    "--output=pwned",
    "-opwned",
    "--",
    "-",
    "--config=/some/file",
    "-d@/etc/hostname",
    "file:///etc/hostname",
    "FILE:///etc/hostname",
    "file:/etc/hostname",
    "gopher://127.0.0.1:1/_x",
    "dict://127.0.0.1:1/x",
    "ftp://127.0.0.1/x",
    "scp://127.0.0.1/x",
    "telnet://127.0.0.1:1",
    "ldap://127.0.0.1/x",
    "$(touch pwned)",
    "`touch pwned`",
    "; touch pwned",
    "| touch pwned",
    "&& touch pwned",
    "a\nb",
    "http://127.0.0.1/\n-K/some/file",
    "\r\n-o pwned",
    "\x1b[31mred\x1b[0m",
    "\x1b]52;c;cHduZWQ=\x07",
    "\x1b[2J",
    "\x00",
    "\u202eevil",
    "\x7f",
    "http://user:S3cret@127.0.0.1/",
    "http://:S3cret@127.0.0.1/",
    "https://u@127.0.0.1/",
    "http://127.0.0.1@evil/",
    "http://127.0.0.1/?next=file:///etc/hostname",
    "http://127.0.0.1/{a,b}[1-9]",
    "http://127.0.0.1\\@evil/",
    " http://127.0.0.1/",
    "javascript:alert(1)",
    "{{ 7*7 }}",
    "{{ ''.__class__ }}",
    "x" * 10240,
    "http://127.0.0.1/" + "a" * 10240,
    "-" * 10240,
]
PREFIXES = [
    "-",
    "--",
    "-K",
    "-o",
    "file://",
    "FILE://",
    "gopher://",
    "$(",
    "`",
    "\x1b[",
    "http://user:pw@",
    "https://",
    "http://",
    "\n",
    "",
]
SCHEME = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*://")


def hostile_values() -> st.SearchStrategy[str]:
    """Known attack strings, prefixes glued to arbitrary text, and arbitrary text."""
    text = st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=64)
    glued = st.builds(lambda p, t: p + t, st.sampled_from(PREFIXES), text)
    local = st.builds(lambda t: "http://127.0.0.1:9/" + t, text)  # nasty but well-formed
    return st.one_of(st.sampled_from(HOSTILE), glued, local, text)


def referenced_keys(playbook: Playbook, mapping: str) -> set[str]:
    """The keys of `labels` or `annotations` any template of the playbook reads."""
    templates = list(playbook.variables.values())
    for step in playbook.steps:
        templates += [step.title, step.text, step.question or "", step.reason or ""]
        templates += list(step.params) + list(step.args.values())
        templates += [spec.source for spec in step.inputs.values()]
    keys: set[str] = set()
    for template in templates:
        tree = TEMPLATES.parse(template or "")
        for node in tree.find_all((nodes.Getattr, nodes.Getitem)):
            if isinstance(node.node, nodes.Name) and node.node.name == mapping:
                key = node.attr if isinstance(node, nodes.Getattr) else getattr(node.arg, "value", None)
                if isinstance(key, str):
                    keys.add(key)
    return keys


def other_schemes(value: str) -> list[str]:
    """Every `scheme://` in a value that is not http or https."""
    return [m[0] for m in SCHEME.finditer(value) if m[0].lower() not in ("http://", "https://")]


def local_http() -> contextlib.AbstractContextManager[str]:
    """A server on 127.0.0.1 answering every GET with 200 `ok`; yields its base URL."""
    return serve(lambda path: (200, b"ok\n", "text/plain"))
