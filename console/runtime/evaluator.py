"""Which console of the team evaluates: the engine's side of the evaluator lease (console/team/lease.py)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from console.incidents.events import Event
from console.team.backend import TeamError

if TYPE_CHECKING:
    from console.rules.model import Rule
    from console.team.lease import Lease

TTL_FACTOR = 1.5  # a lease not renewed for 1.5 evaluation intervals is free


def lease_ttl(rules: Sequence[Rule], tick_interval: timedelta) -> timedelta:
    """1.5 × the smallest group interval of the rules in force (the tick interval without rules),
    never less than 1.5 ticks, so the holder's own renewals keep it."""
    interval = min((r.interval for r in rules), default=tick_interval)
    return max(interval, tick_interval) * TTL_FACTOR


def lead(lease: Lease, now: datetime, said: tuple[bool, str | None] | None) -> tuple[bool, list[Event]]:
    """Renew or take the lease: (whether we evaluate, the event when that or the holder changed
    since `said`).  A database failure means we do not evaluate, said once."""
    try:
        held = lease.acquire_or_renew()
    except TeamError as exc:
        lease.token, lease.last = None, None
        if said == (False, None):
            return False, []
        return False, [Event(now, "team", f"this console does not evaluate: {exc}")]
    holder = lease.last.holder if lease.last else None
    if said == (held, holder):
        return held, []
    assert lease.last is not None
    return held, [Event(now, "team", lease.last.line(), {"evaluating": held, "holder": holder})]
