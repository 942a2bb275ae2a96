"""Which silences and inhibitions mute an alert, as Alertmanager decides it."""

from __future__ import annotations

from datetime import datetime

from console.alerts.lifecycle import Alert
from console.alerts.silences import Silence, silenced_by
from console.rules.matchers import InhibitRule, inhibited_by


def apply_silences(
    alerts: list[Alert],
    others: list[Alert],
    silences: list[Silence],
    inhibit_rules: list[InhibitRule],
    now: datetime,
) -> None:
    """Set each alert's silenced_by and inhibited_by as Alertmanager does.

    Every firing alert of any source can inhibit, muted or not (as Alertmanager's sources are
    all its unresolved alerts); `state` stays the rule's state, see `reported_state`.
    """
    sources = [
        (a.fingerprint, a.labels) for a in list(alerts) + list(others) if a.state in ("firing", "suppressed")
    ]
    for alert in alerts:
        alert.silenced_by = silenced_by(alert.labels, silences, now)
        alert.inhibited_by = (
            inhibited_by(alert.fingerprint, alert.labels, sources, inhibit_rules)
            if alert.state == "firing"
            else []
        )


def reported_state(alert: Alert) -> str:
    """The state to show, as Alertmanager's API: a firing alert a silence or inhibition mutes is `suppressed`."""
    if alert.state == "firing" and (alert.silenced_by or alert.inhibited_by):
        return "suppressed"
    return alert.state
