"""Who acts: the OS account of the process that made a change, and whom it claims to act for.

The audited actor is never self-asserted: it is the uid of the process (for a command
forwarded over the control socket, the client's uid from SO_PEERCRED) and that uid's
account name.  `--actor` / `$ONCALL_ACTOR` is kept separately as "on behalf of"; without
either, the workspace's team identity (`team: {user: ...}`) is the claim.
"""

from __future__ import annotations

import os
import pwd
from dataclasses import dataclass

CLAIM_LIMIT = 200


@dataclass(frozen=True)
class Caller:
    """The process behind a forwarded command: uid and pid from SO_PEERCRED, and its claim."""

    uid: int
    pid: int
    claim: str | None = None


def account_name(uid: int) -> str:
    """The account name of `uid` (from the password database), or `uid N` when it has none."""
    try:
        return pwd.getpwuid(uid).pw_name
    except KeyError:
        return f"uid {uid}"


def clean_claim(claim: str | None) -> str | None:
    """A claimed identity as one printable line of bounded length; None when empty."""
    if not claim:
        return None
    text = " ".join("".join(ch if ch.isprintable() else " " for ch in claim).split())
    return text[:CLAIM_LIMIT] or None


class Actor(str):
    """Who acts, usable as text ("root", "root (on behalf of alice)") with `uid`, `name` and
    `on_behalf_of` kept apart for the audit log."""

    uid: int
    name: str
    on_behalf_of: str | None

    def __new__(cls, uid: int, name: str, on_behalf_of: str | None = None) -> Actor:
        claim = clean_claim(on_behalf_of)
        claim = None if claim == name else claim
        self = super().__new__(cls, name if claim is None else f"{name} (on behalf of {claim})")
        self.uid, self.name, self.on_behalf_of = uid, name, claim
        return self

    def __getnewargs__(self) -> tuple[int, str, str | None]:  # type: ignore[override]
        return self.uid, self.name, self.on_behalf_of


def person(actor: str | None) -> str | None:
    """The name a person goes by, for roles such as an incident's commander: the claim, else
    the account (the audit log and the timeline keep both)."""
    if isinstance(actor, Actor):
        return actor.on_behalf_of or actor.name
    return actor


def actor_for(uid: int, claim: str | None = None, team_user: str | None = None) -> Actor:
    """The actor for a process of `uid` that claims to act for `claim`, else for the
    workspace's team identity `team_user`."""
    return Actor(uid, account_name(uid), clean_claim(claim) or team_user)


def current_actor(claim: str | None = None, *, team_user: str | None = None) -> Actor:
    """This process's OS account, acting for `claim` (default: $ONCALL_ACTOR, then `team_user`)."""
    if claim is None:
        claim = os.environ.get("ONCALL_ACTOR")
    return actor_for(os.getuid(), claim, team_user)


def as_actor(value: str | None) -> Actor:
    """An Actor as is; a plain name is a claim made by this process's OS account."""
    if isinstance(value, Actor):
        return value
    return actor_for(os.getuid(), value)
