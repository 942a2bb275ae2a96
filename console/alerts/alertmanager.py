"""Sending the console's alerts and silences to the team's Alertmanager (API v2)."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

import httpx

if TYPE_CHECKING:
    from console.alerts.lifecycle import Alert
    from console.alerts.silences import Silence
    from console.config.workspace import SourceConfig, Workspace

RESEND_HOLD = timedelta(minutes=4)  # a firing alert's endsAt: it lapses if we stop sending


class AlertmanagerError(Exception):
    """Alertmanager refused or could not be reached; the message names the URL."""


def _iso(moment: datetime) -> str:
    return (
        moment.replace(microsecond=moment.microsecond // 1000 * 1000).isoformat(timespec="milliseconds") + "Z"
    )


class AlertmanagerClient:
    """POST alerts, create and expire silences on one Alertmanager."""

    def __init__(
        self,
        url: str,
        *,
        client: httpx.Client | None = None,
        timeout: float = 10.0,
        hold: timedelta = RESEND_HOLD,
        unusable: str | None = None,
    ) -> None:
        self.url = url
        self.client = client or httpx.Client(timeout=timeout)
        self.hold = hold
        self.unusable = unusable  # why no request can be sent (a credential failed to load)

    def _call(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        from collectors.http import join_url
        from console.core.secrets import mask_url, redact

        url = join_url(self.url, path)
        if self.unusable:
            raise AlertmanagerError(f"{mask_url(url)}: {self.unusable}")
        try:
            response = self.client.request(method, url, **kwargs)
        except httpx.HTTPError as exc:
            raise AlertmanagerError(
                redact(f"{url}: {type(exc).__name__}: {exc}; is Alertmanager running there?")
            ) from None
        if response.status_code >= 400:
            raise AlertmanagerError(
                redact(f"{url}: HTTP {response.status_code}: {response.text.strip()[:200]}")
            )
        return response

    def payload(self, alerts: list[Alert], now: datetime) -> list[dict[str, Any]]:
        """Alertmanager's shape: firing alerts end `hold` from now, resolved ones when they did."""
        body = []
        for alert in alerts:
            ends = self._ends(alert, now)
            if ends is not None:
                body.append(_posted(alert, ends, now))
        return body

    def _ends(self, alert: Alert, now: datetime) -> datetime | None:
        """When Alertmanager is to consider the alert over; None for one it is not sent."""
        if alert.state == "firing":
            return now + self.hold
        return alert.resolved_at if alert.state == "resolved" else None

    def push(self, alerts: list[Alert], now: datetime) -> int:
        """Send firing and resolved alerts; return how many were sent."""
        body = self.payload(alerts, now)
        if body:
            self._call("POST", "/api/v2/alerts", json=body)
        return len(body)

    def create_silence(self, silence: Silence) -> str:
        """Create the silence there; return Alertmanager's silence id."""
        body = {
            "matchers": [
                {
                    "name": m.name,
                    "value": m.value,
                    "isRegex": m.op in ("=~", "!~"),
                    "isEqual": m.op in ("=", "=~"),
                }
                for m in silence.matchers
            ],
            "startsAt": _iso(silence.starts_at),
            "endsAt": _iso(silence.ends_at),
            "createdBy": silence.created_by or "oncall",
            "comment": silence.comment or "silenced from the oncall console",
        }
        return str(self._call("POST", "/api/v2/silences", json=body).json()["silenceID"])

    def expire_silence(self, silence_id: str) -> None:
        self._call("DELETE", f"/api/v2/silence/{silence_id}")

    def close(self) -> None:
        self.client.close()


def from_workspace(workspace: Workspace) -> AlertmanagerClient | None:
    """A client for the workspace's first enabled `alertmanager` source, or None."""
    source = next((s for s in workspace.config.sources if _pushes_to(s)), None)
    if source is None:
        return None
    from collectors.base import SourceError
    from collectors.http import HttpOptions, make_client

    # the workspace loader validated these options (the collector's own class)
    options = HttpOptions.model_validate(source.options)
    try:
        client = make_client(options, base_dir=workspace.root)
    except SourceError as exc:  # each send says why, as a failed send does
        return AlertmanagerClient(options.url, unusable=f"source {source.name!r}: {exc}")
    return AlertmanagerClient(options.url, client=client)


def _pushes_to(source: SourceConfig) -> bool:
    return bool(source.kind == "alertmanager" and source.enabled and source.options.get("url"))


def _posted(alert: Alert, ends: datetime, now: datetime) -> dict[str, Any]:
    """One alert as posted to /api/v2/alerts."""
    # The collector owns the prefix it skips; imported here, as it loads pyarrow.
    from collectors.alertmanager import GENERATOR

    return {
        "labels": {k: str(v) for k, v in alert.labels.items()},
        "annotations": {k: str(v) for k, v in (alert.annotations or {}).items()},
        "startsAt": _iso(alert.fired_at or alert.active_since or now),
        "endsAt": _iso(ends),
        "generatorURL": GENERATOR + alert.rule,
    }
