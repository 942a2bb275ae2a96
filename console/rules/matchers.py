"""Label matchers (as Alertmanager's) and inhibition rules: pure matching, no store.

Matching follows Alertmanager: regexes are RE2 syntax (as Go's regexp), anchored at both ends,
and a missing label is the empty string.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import re2

_MATCHER = re.compile(
    r"^\s*(?P<name>[A-Za-z_][A-Za-z0-9_]*)\s*(?P<op>=~|!~|!=|=)\s*"
    r'(?P<value>"(?:[^"\\]|\\.)*"|[^"]*?)\s*$'
)
_LABEL_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
OPS = ("=", "!=", "=~", "!~")
ALL_MATCH_EMPTY = "at least one matcher must not match the empty string"
_RE2_OPTIONS = re2.Options()
_RE2_OPTIONS.log_errors = False  # RE2 would log each refused pattern to stderr


@functools.lru_cache(maxsize=4096)
def compile_regex(pattern: str) -> Any:
    """`pattern` anchored at both ends, as Alertmanager does; ValueError if it is not RE2 syntax."""
    try:
        return re2.compile(f"^(?:{pattern})$", options=_RE2_OPTIONS)
    except re2.error as exc:
        reason = (
            exc.args[0].decode(errors="replace") if exc.args and isinstance(exc.args[0], bytes) else str(exc)
        )
        raise ValueError(
            f"{pattern!r} is not RE2 syntax ({reason}); Alertmanager's regexes "
            "have no lookarounds, backreferences, possessive or atomic groups"
        ) from None


@dataclass(frozen=True)
class Matcher:
    """`name op value` with op one of =, !=, =~, !~ (regexes match the whole value)."""

    name: str
    value: str
    op: str = "="

    def check(self) -> None:
        """Raise ValueError if Alertmanager would refuse this matcher."""
        if not _LABEL_NAME.fullmatch(self.name):
            raise ValueError(f"bad matcher {self}: {self.name!r} is not a label name")
        if self.op not in OPS:
            raise ValueError(f"bad matcher {self}: the operator is one of =, !=, =~, !~")
        if self.op in ("=~", "!~"):
            try:
                compile_regex(self.value)
            except ValueError as exc:
                raise ValueError(f"bad regular expression in matcher {self}: {exc}") from None

    def matches(self, labels: Mapping[str, str]) -> bool:
        actual = str(labels.get(self.name, ""))
        if self.op == "=":
            return actual == self.value
        if self.op == "!=":
            return actual != self.value
        hit = compile_regex(self.value).search(actual) is not None
        return hit if self.op == "=~" else not hit

    def matches_empty(self) -> bool:
        """Whether Alertmanager counts this matcher as matching the empty string (!= and !~ never)."""
        if self.op == "=":
            return self.value == ""
        if self.op == "=~":
            return compile_regex(self.value).search("") is not None
        return False

    def as_dict(self) -> dict[str, str]:
        return {"name": self.name, "value": self.value, "op": self.op}

    def __str__(self) -> str:
        return f'{self.name}{self.op}"{self.value}"'


def parse_matcher(text: str) -> Matcher:
    """`severity="page"`, `service=~"api|web"`, `env!=prod` into a Matcher; ValueError if bad."""
    match = _MATCHER.match(str(text))
    if not match:
        raise ValueError(f"bad matcher {text!r}; use name=value, name!=value, name=~regex or name!~regex")
    value = match["value"]
    if value[:1] in ("=", "~"):
        raise ValueError(
            f"bad matcher {text!r}: the operator is one of =, !=, =~, !~; "
            "quote a value that starts with = or ~"
        )
    if value.startswith('"'):
        value = re.sub(r"\\(.)", r"\1", value[1:-1])
    if match["op"] in ("=~", "!~"):
        try:
            compile_regex(value)
        except ValueError as exc:
            raise ValueError(f"bad regular expression in matcher {text!r}: {exc}") from None
    return Matcher(match["name"], value, match["op"])


def check_silence_matchers(matchers: Iterable[Matcher]) -> None:
    """Raise ValueError where Alertmanager refuses a silence with these matchers."""
    matchers = list(matchers)
    if not matchers:
        raise ValueError("a silence needs at least one matcher")
    for matcher in matchers:
        matcher.check()
    if all(m.matches_empty() for m in matchers):
        raise ValueError(
            f"silence refused: {ALL_MATCH_EMPTY} "
            f"({', '.join(str(m) for m in matchers)} would silence every alert "
            "without those labels, pages included); add one that needs a value, "
            "e.g. alertname=NAME"
        )


def matches_all(matchers: Iterable[Matcher], labels: Mapping[str, str]) -> bool:
    return all(m.matches(labels) for m in matchers)


@dataclass
class InhibitRule:
    """A firing alert matching `source` mutes alerts matching `target` that share `equal` labels."""

    source: list[Matcher]
    target: list[Matcher]
    equal: list[str] = field(default_factory=list)


# An SLO's page alert inhibits the same SLO's ticket alert.
DEFAULT_INHIBIT_RULES = [
    InhibitRule(
        [Matcher("severity", "page"), Matcher("slo", ".+", "=~")],
        [Matcher("severity", "ticket"), Matcher("slo", ".+", "=~")],
        ["slo"],
    ),
]


def inhibited_by(
    fingerprint: str,
    labels: Mapping[str, str],
    sources: Iterable[tuple[str, Mapping[str, str]]],
    rules: Iterable[InhibitRule],
) -> list[str]:
    """Fingerprints of the firing alerts that inhibit this one, by the first rule that does.

    As Alertmanager's inhibitor: `equal` labels compare with a missing label as "", and an
    alert matching both sides of a rule is never inhibited by another that also does.
    Alertmanager names one of the returned fingerprints (any one); we name them all.
    """
    sources = list(sources)
    for rule in rules:
        found = _inhibiting(rule, fingerprint, labels, sources) if matches_all(rule.target, labels) else []
        if found:
            return found
    return []


def _inhibiting(
    rule: InhibitRule,
    fingerprint: str,
    labels: Mapping[str, str],
    sources: list[tuple[str, Mapping[str, str]]],
) -> list[str]:
    """The sources that inhibit an alert `rule` targets."""
    two_sided = matches_all(rule.source, labels)
    return sorted(
        {
            source_fp
            for source_fp, source_labels in sources
            if source_fp != fingerprint
            and matches_all(rule.source, source_labels)
            and _equal(rule.equal, source_labels, labels)
            and not (two_sided and matches_all(rule.target, source_labels))
        }
    )


def _equal(names: list[str], one: Mapping[str, str], other: Mapping[str, str]) -> bool:
    """Whether two alerts agree on `names` (a missing label counts as "")."""
    return all(str(one.get(k, "")) == str(other.get(k, "")) for k in names)
