"""The one list of alerts: what `oncall alerts` prints and what the console shows.

Every source once (our own alerts pushed to Alertmanager and collected back are not shown
twice), silences and inhibition as of `now` (a silence created a moment ago mutes already),
a muted firing alert reported as `suppressed`, most urgent first (`urgency`).

The order is what Prometheus's and Alertmanager's own pages lead people to expect: Prometheus
lists firing alerts before pending ones; Alertmanager hides silenced and inhibited alerts
unless asked, so a muted alert (`suppressed`) comes after everything that can still page, and
resolved ones last. Within a state the most severe first (`page`/`critical`, then `ticket`/
`warning`, an alert without a known severity, then `info`), then the newest first, as
Alertmanager and k9s list the youngest at the top.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING

from console.alerts.lifecycle import Alert
from console.alerts.muting import apply_silences, reported_state
from console.alerts.persistence import load_alerts
from console.alerts.silences import Silence, load_silences, silenced_by
from console.rules.matchers import DEFAULT_INHIBIT_RULES, InhibitRule

if TYPE_CHECKING:
    from console.store import Store

SHOWN_STATES = ("pending", "firing", "resolved", "suppressed")  # inactive alerts are not listed
STATE_ORDER = {"firing": 0, "pending": 1, "suppressed": 2, "resolved": 3}  # others after these
_EPOCH = datetime(1970, 1, 1)  # stored times are naive UTC
SEVERITY_ORDER = {"page": 0, "critical": 0, "ticket": 1, "warning": 1, "info": 3}  # unknown: 2


@dataclass
class ListedAlert:
    """An alert as listed: its reported state (`suppressed` when muted) beside the alert."""

    alert: Alert
    state: str

    @property
    def since(self) -> datetime | None:
        """When a resolved alert resolved, else since when it is active."""
        return self.alert.resolved_at if self.alert.state == "resolved" else self.alert.active_since


def _label_key(alert: Alert) -> tuple[tuple[str, str], ...]:
    return tuple(sorted(alert.labels.items()))


def _own_and_external(alerts: list[Alert]) -> tuple[list[Alert], list[Alert]]:
    """Our alerts, and Alertmanager's less the ones that are ours collected back."""
    own = [a for a in alerts if a.source != "alertmanager"]
    pushed = {_label_key(a) for a in own}
    external = [a for a in alerts if a.source == "alertmanager" and _label_key(a) not in pushed]
    return own, external


def _add_our_silences(external: list[Alert], silences: list[Silence], now: datetime) -> None:
    """Alertmanager's own silences of its alerts are kept; ours are added."""
    for alert in external:
        ours = [s for s in silenced_by(alert.labels, silences, now) if s not in alert.silenced_by]
        alert.silenced_by = list(alert.silenced_by) + ours


def _mute(
    own: list[Alert],
    external: list[Alert],
    silences: list[Silence],
    inhibit_rules: Iterable[InhibitRule] | None,
    now: datetime,
) -> None:
    if inhibit_rules is None:  # the inhibition the engine saved at its last cycle; silences as of now
        for alert in own:
            alert.silenced_by = silenced_by(alert.labels, silences, now)
        return
    apply_silences(own, external, silences, [*DEFAULT_INHIBIT_RULES, *inhibit_rules], now)


def list_alerts(
    store: Store,
    now: datetime,
    inhibit_rules: Iterable[InhibitRule] | None = None,
    *,
    silences: list[Silence] | None = None,
    states: Sequence[str] = SHOWN_STATES,
    alerts: list[Alert] | None = None,
) -> list[ListedAlert]:
    """The alerts in these reported states, silenced as of `now` (default: the store's silences)
    and inhibited by the default inhibit rules plus `inhibit_rules` (the workspace's); with None,
    as the engine decided at its last cycle, with the rules then in force.  `alerts`: these
    instead of the store's (e.g. replayed as of a past time)."""
    silences = load_silences(store, now) if silences is None else silences
    own, external = _own_and_external(load_alerts(store, external=None) if alerts is None else alerts)
    _mute(own, external, silences, inhibit_rules, now)
    _add_our_silences(external, silences, now)
    listed = [ListedAlert(a, reported_state(a)) for a in own + external]
    shown = [entry for entry in listed if entry.state in states]
    shown.sort(key=urgency)
    return shown


def urgency(entry: ListedAlert) -> tuple[int, int, float, str, str]:
    """The sort key of the list: state, then severity, then newest first (undated last)."""
    severity = entry.alert.labels.get("severity", "").lower()
    since = entry.since
    newest_first = -(since.replace(tzinfo=None) - _EPOCH).total_seconds() if since else float("inf")
    return (
        STATE_ORDER.get(entry.state, len(STATE_ORDER)),
        SEVERITY_ORDER.get(severity, 2),
        newest_first,
        entry.alert.name,
        entry.alert.fingerprint,
    )
