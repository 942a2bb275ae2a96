"""After a rollback: follow the model's error ratio (and burn) until it recovers or time is up."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from console.registry.base import Clock, SeriesMatch, WatchConfig
from console.store.audit import write_audit

if TYPE_CHECKING:
    from console.store import Store

WATCHING, RECOVERED, NOT_RECOVERED = "watching", "recovered", "not_recovered"


@dataclass
class WatchStatus:
    """One look at the model after the rollback."""

    state: str
    error_ratio: float | None
    burn: float | None
    requests: float
    at: datetime

    def text(self, model: str) -> str:
        ratio = "no data" if self.error_ratio is None else f"{self.error_ratio:.3%}"
        burn = "" if self.burn is None else f", burn {self.burn:.2f}x"
        words = {WATCHING: "watching", RECOVERED: "recovered", NOT_RECOVERED: "did not recover"}[self.state]
        return f"{model} {words} after rollback: error ratio {ratio}{burn} over the last window"


def _increase(store: Store, match: SeriesMatch, start: datetime, end: datetime) -> float:
    """Counter increase over (start, end] across the matching series; a drop is a reset."""
    where = ["s.name = ?"]
    params: list[Any] = [match.name]
    for key, value in sorted(match.labels.items()):
        where.append("json_extract_string(s.labels, ?) = ?")
        params += ['$."' + key.replace('"', '\\"') + '"', value]
    sql = f"""
        WITH points AS (
            SELECT x.series_id, x.value,
                   lag(x.value) OVER (PARTITION BY x.series_id ORDER BY x.ts) AS prev
            FROM samples x JOIN series s ON s.id = x.series_id
            WHERE {" AND ".join(where)} AND x.ts >= ? AND x.ts <= ?
              AND x.value IS NOT NULL  -- a stale marker is not a value, nor a reset
        )
        SELECT coalesce(sum(CASE WHEN prev IS NULL THEN 0 WHEN value >= prev THEN value - prev
                                 ELSE value END), 0)
        FROM points
    """
    return float(store.query(sql, [*params, start, end])[1][0][0])


def assess(store: Store, config: WatchConfig, *, started: datetime, now: datetime) -> WatchStatus:
    """Where the model stands `now`, judging only traffic served after the rollback."""
    window_start = max(started, now - config.window)
    errors = _increase(store, config.errors, window_start, now)
    total = _increase(store, config.total, window_start, now)
    ratio = errors / total if total > 0 else None
    burn = ratio / (1 - config.objective) if ratio is not None and config.objective else None
    full_window = now - started >= config.window
    if ratio is not None and full_window and _healthy(config, ratio, burn):
        state = RECOVERED
    elif now - started >= config.duration:
        state = NOT_RECOVERED
    else:
        state = WATCHING
    return WatchStatus(state, ratio, burn, total, now)


def _healthy(config: WatchConfig, ratio: float, burn: float | None) -> bool:
    if burn is not None and burn > config.max_burn:
        return False
    if config.max_error_ratio is not None and ratio > config.max_error_ratio:
        return False
    return burn is not None or config.max_error_ratio is not None


def record_outcome(
    store: Store, status: WatchStatus, *, model: str, incident_id: int | None, actor: str, started: datetime
) -> None:
    """Write the watch's verdict to the incident timeline (and the audit log)."""
    detail = {
        "model": model,
        "state": status.state,
        "error_ratio": status.error_ratio,
        "burn": status.burn,
        "requests": status.requests,
        "since": started,
    }
    with store.shared.transaction() as cur:
        if incident_id is not None:
            cur.execute(
                "INSERT INTO timeline VALUES (nextval('timeline_id_seq'), ?, ?, ?, ?, ?, ?)",
                [incident_id, status.at, "watch", actor, status.text(model), json.dumps(detail, default=str)],
            )
        write_audit(
            cur,
            ts=status.at,
            actor=actor,
            action="watch",
            phase="after",
            target=model,
            reason=None,
            params=None,
            result=detail,
        )


def watch_rollback(
    open_store: Callable[[], Store],
    config: WatchConfig,
    *,
    model: str,
    started: datetime,
    clock: Clock,
    sleep: Callable[[float], None] = time.sleep,
    on_status: Callable[[WatchStatus], None] | None = None,
) -> WatchStatus:
    """Assess every `config.every` until recovered or `config.duration` has passed.

    `open_store` gives a store to read for each look (a fresh snapshot when a console
    holds the file) and is closed after it; recording the verdict is the caller's.
    """
    while True:
        store = open_store()
        try:
            status = assess(store, config, started=started, now=clock())
        finally:
            store.close()
        if on_status:
            on_status(status)
        if status.state != WATCHING:
            return status
        sleep(config.every.total_seconds())
