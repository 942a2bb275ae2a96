"""Silences (label matchers with a start and an end) and inhibition rules, kept in the store.

Matching follows Alertmanager: regexes are RE2 syntax (as Go's regexp), anchored at both ends,
and a missing label is the empty string.
"""

from __future__ import annotations

import functools
import json
import re
import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import re2

from console.store.audit import write_audit

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
class Silence:
    """Alerts whose labels match every matcher are silenced from `starts_at` until `ends_at`."""

    id: str
    matchers: list[Matcher]
    starts_at: datetime
    ends_at: datetime
    created_by: str | None = None
    comment: str | None = None
    source: str = "console"
    external_id: str | None = None
    refused: str | None = None  # why Alertmanager would refuse it: then it mutes nothing

    def active(self, now: datetime) -> bool:
        return self.refused is None and self.starts_at <= now < self.ends_at

    def state(self, now: datetime) -> str:
        if self.refused is not None and now < self.ends_at:
            return "refused"
        return "active" if self.active(now) else ("pending" if now < self.starts_at else "expired")

    def matches(self, labels: Mapping[str, str]) -> bool:
        return matches_all(self.matchers, labels)


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


def silenced_by(labels: Mapping[str, str], silences: Iterable[Silence], now: datetime) -> list[str]:
    """Ids of the active silences that match these labels."""
    return [s.id for s in silences if s.active(now) and s.matches(labels)]


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
        if not matches_all(rule.target, labels):
            continue
        two_sided = matches_all(rule.source, labels)
        found = sorted(
            {
                source_fp
                for source_fp, source_labels in sources
                if source_fp != fingerprint
                and matches_all(rule.source, source_labels)
                and all(str(source_labels.get(k, "")) == str(labels.get(k, "")) for k in rule.equal)
                and not (two_sided and matches_all(rule.target, source_labels))
            }
        )
        if found:
            return found
    return []


# -- persistence -------------------------------------------------------------------------


def _row_to_silence(row: tuple) -> Silence:
    """A stored silence; one Alertmanager would refuse (stored by an older oncall) mutes nothing."""
    matchers = [Matcher(m["name"], m["value"], m.get("op", "=")) for m in json.loads(row[1])]
    silence = Silence(row[0], matchers, row[2], row[3], row[4], row[5], row[6] or "console", row[7])
    try:
        check_silence_matchers(matchers)
    except ValueError as exc:
        silence.refused = str(exc)
    return silence


_COLUMNS = "id, matchers, starts_at, ends_at, created_by, comment, source, external_id"


def load_silences(store: Any, now: datetime | None = None, *, include_expired: bool = False) -> list[Silence]:
    """Silences in the store; without `include_expired`, only those not yet ended at `now`."""
    sql = f"SELECT {_COLUMNS} FROM silences"
    params: list[Any] = []
    if not include_expired and now is not None:
        sql += " WHERE ends_at > ?"
        params.append(now)
    _, rows = store.query(sql + " ORDER BY starts_at, id", params)
    return [_row_to_silence(r) for r in rows]


def get_silence(store: Any, silence_id: str) -> Silence | None:
    _, rows = store.query(
        f"SELECT {_COLUMNS} FROM silences WHERE id = ? OR id LIKE ?", [silence_id, silence_id + "%"]
    )
    return _row_to_silence(rows[0]) if len(rows) == 1 else None


def _audit(
    cur: Any,
    now: datetime,
    actor: str | None,
    action: str,
    phase: str,
    target: str,
    reason: str | None,
    params: dict[str, Any],
    result: Any = None,
) -> None:
    """One audit row; `actor` is an `identity.Actor` or a name claimed by this process's account."""
    write_audit(
        cur,
        ts=now,
        actor=actor,
        action=action,
        phase=phase,
        target=target,
        reason=reason,
        params=params,
        result=result,
    )


def create_silence(
    store: Any,
    matchers: list[Matcher],
    starts_at: datetime,
    ends_at: datetime,
    *,
    created_by: str | None,
    comment: str | None,
    now: datetime,
    alertmanager: Any = None,
) -> Silence:
    """Store a silence (audited); with `alertmanager`, create it there too and keep its id.

    A silence Alertmanager would refuse raises ValueError before anything is stored or audited.
    """
    check_silence_matchers(matchers)
    if ends_at <= starts_at:
        raise ValueError("a silence must end after it starts")
    silence = Silence(uuid.uuid4().hex[:12], list(matchers), starts_at, ends_at, created_by, comment)
    params = {
        "matchers": [str(m) for m in matchers],
        "starts_at": starts_at,
        "ends_at": ends_at,
        "comment": comment,
    }
    with store.transaction() as cur:
        _audit(cur, now, created_by, "silence.create", "before", silence.id, comment, params)
    result: dict[str, Any] = {"id": silence.id}
    if alertmanager is not None:
        silence.external_id = alertmanager.create_silence(silence)
        result["alertmanager_id"] = silence.external_id
    with store.transaction() as cur:
        cur.execute(
            f"INSERT INTO silences ({_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            [
                silence.id,
                json.dumps([m.as_dict() for m in matchers]),
                starts_at,
                ends_at,
                created_by,
                comment,
                silence.source,
                silence.external_id,
            ],
        )
        _audit(cur, now, created_by, "silence.create", "after", silence.id, comment, params, result)
    return silence


def expire_silence(
    store: Any, silence: Silence, *, now: datetime, actor: str | None = None, alertmanager: Any = None
) -> Silence:
    """End a silence early (audited); expire its Alertmanager twin too."""
    params = {"ends_at_was": silence.ends_at}
    with store.transaction() as cur:
        _audit(cur, now, actor, "silence.expire", "before", silence.id, None, params)
    if alertmanager is not None and silence.external_id:
        alertmanager.expire_silence(silence.external_id)
    silence.ends_at = min(silence.ends_at, now)
    if silence.starts_at > silence.ends_at:
        silence.starts_at = silence.ends_at
    with store.transaction() as cur:
        cur.execute(
            "UPDATE silences SET ends_at = ?, starts_at = ? WHERE id = ?",
            [silence.ends_at, silence.starts_at, silence.id],
        )
        _audit(
            cur, now, actor, "silence.expire", "after", silence.id, None, params, {"ends_at": silence.ends_at}
        )
    return silence
