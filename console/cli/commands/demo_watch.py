"""What the headless demo prints beside the engine's events: a heartbeat, and what people did.

Every simulated five minutes a heartbeat line gives each SLO's state and burns; every
action, playbook step, note and incident status change — made from this process or from any
other terminal on the same workspace — is printed once, read back from the timeline and the
audit log by id, so nothing done elsewhere goes unseen.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from console.core.terminal import escape
from console.incidents.loop import AUTO_ACTOR

if TYPE_CHECKING:
    from console.runtime.session import Session

BEAT = timedelta(minutes=5)
# Timeline kinds the engine's own events already print (alerts) or the audit rows cover (actions).
_TIMELINE_SKIP = ("alert", "action")
# Audit actions whose story the timeline tells (playbook steps, incident notes and follow-ups).
_AUDIT_SKIP = ("playbook.%", "incident.%")


class HeadlessWatch:
    """The lines to print after a tick: new people's entries, then a heartbeat when one is due."""

    def __init__(self, session: Session) -> None:
        self.session = session
        self.timeline_seen = _max_id(session, "timeline")
        self.audit_seen = _max_id(session, "audit")
        self.next_beat: datetime | None = None

    def lines(self) -> list[str]:
        out = self._timeline() + self._audit()
        now = self.session.clock()
        if self.next_beat is None or now >= self.next_beat:
            out.append(self._heartbeat(now))
            self.next_beat = _floor(now) + BEAT
        return out

    def _timeline(self) -> list[str]:
        # The engine's own entries (incident declared…) are its events, printed already — unless
        # another console evaluates for the team: then they are news here.
        evaluator = self.session.evaluator
        auto = AUTO_ACTOR if evaluator is None or evaluator.ours else ""
        rows = self.session.store.shared.query(
            "SELECT id, incident_id, ts, kind, actor, text FROM timeline WHERE id > ? "
            "AND kind NOT IN (?, ?) AND actor IS DISTINCT FROM ? ORDER BY id",
            [self.timeline_seen, *_TIMELINE_SKIP, auto],
        )[1]
        self.timeline_seen = max([self.timeline_seen, *(r[0] for r in rows)])
        return [
            escape(f"{ts:%Y-%m-%d %H:%M:%S} {kind:<9} incident {incident}: {text} (by {actor})")
            for _, incident, ts, kind, actor, text in rows
        ]

    def _audit(self) -> list[str]:
        rows = self.session.store.shared.query(
            "SELECT id, ts, actor, action, phase, target, reason FROM audit WHERE id > ? "
            "AND phase IN ('after', 'denied', 'failed') AND action NOT LIKE ? AND action NOT LIKE ? "
            "ORDER BY id",
            [self.audit_seen, *_AUDIT_SKIP],
        )[1]
        self.audit_seen = max([self.audit_seen, *(r[0] for r in rows)])
        return [
            escape(
                f"{ts:%Y-%m-%d %H:%M:%S} {'action':<9} {action} {phase} on {target} by {actor}"
                + (f" — {reason}" if reason else "")
            )
            for _, ts, actor, action, phase, target, reason in rows
        ]

    def _heartbeat(self, now: datetime) -> str:
        from console.screens.slo_board import slo_board

        def burn(value: float | None) -> str:
            return "–" if value is None else f"{value:.1f}×"

        states = [
            f"{row.name} {row.state} (5m {burn(row.burn_5m)} 1h {burn(row.burn_1h)})"
            for row in slo_board(self.session.store, self.session.slos, now)
        ]
        return escape(f"{now:%Y-%m-%d %H:%M:%S} {'heartbeat':<9} " + ("; ".join(states) or "no SLOs"))


_MAX_ID = {
    "timeline": "SELECT coalesce(max(id), 0) FROM timeline",
    "audit": "SELECT coalesce(max(id), 0) FROM audit",
}


def _max_id(session: Session, table: str) -> int:
    """The newest row id of a table: the watch prints only what comes after it."""
    return int(session.store.shared.query(_MAX_ID[table])[1][0][0])


def _floor(now: datetime) -> datetime:
    """The start of the five minutes `now` is in, so beats land on :00, :05, …"""
    return now.replace(minute=now.minute - now.minute % 5, second=0, microsecond=0)
