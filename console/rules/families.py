"""Rule families the workspace implies: collector health and SLO multiwindow burn."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from console.rules.gotemplate_fmt import quote
from console.rules.model import Computed, Rule, sql_str

if TYPE_CHECKING:
    from console.store import Store

HEALTH_INTERVALS = 3  # a source is unhealthy after this many intervals without a success
HEALTH_GROUP = "collector-health"
SLO_ALERT = "SLOErrorBudgetBurn"


def collector_health_sql(sources: list[tuple[str, float]], intervals: int = HEALTH_INTERVALS) -> str:
    """One row per source without a successful run for `intervals` of its interval.

    `reason` says `down` when its last attempt failed, `stale` when it simply has not run;
    `value` is the seconds since its last success.  A source that never ran is left alone.
    """
    values = ", ".join(f"({sql_str(name)}, {float(seconds)!r})" for name, seconds in sources)
    return (
        "SELECT c.name AS collector, "
        "CASE WHEN c.healthy THEN 'stale' ELSE 'down' END AS reason, "
        "epoch({{ now }}) - epoch(coalesce(c.last_success, c.updated_at)) AS value "
        f"FROM collector_state c JOIN (VALUES {values}) AS cfg(name, interval_s) "
        "ON cfg.name = c.name "
        "WHERE coalesce(c.last_success, c.updated_at) IS NOT NULL "
        f"AND epoch({{{{ now }}}}) - epoch(coalesce(c.last_success, c.updated_at)) "
        f">= {intervals} * cfg.interval_s"
    )


def collector_health_rules(workspace: Any, intervals: int = HEALTH_INTERVALS) -> list[Rule]:
    """`CollectorUnhealthy`: an enabled source stale or down for `intervals` of its interval."""
    sources = [(s.name, s.interval.total_seconds()) for s in workspace.config.sources if s.enabled]
    if not sources:
        return []
    shortest = min(seconds for _, seconds in sources)
    return [
        Rule(
            "CollectorUnhealthy",
            collector_health_sql(sources, intervals),
            group=HEALTH_GROUP,
            labels={"severity": "ticket"},
            source="health",
            file=str(workspace.path),
            interval=timedelta(seconds=max(shortest, 10)),
            annotations={
                "summary": "collector {{ $labels.collector }} is {{ $labels.reason }}: no "
                'successful run for {{ printf "%.0f" $value }}s'
            },
            templates="go",
        )
    ]


def slo_burn_rules(slos: list[Any], files: dict[str, str] | None = None) -> list[Rule]:
    """One rule per SLO burn condition (page and ticket, per window pair), all computed at once.

    `files` maps an SLO's name to the file it came from (where its alerts' rules live)."""
    if not slos:
        return []
    from console.slo.conditions import slo_alert_conditions
    from console.slo.status import evaluate_alert_conditions

    files = files or {}
    rules: list[Rule] = []
    keys: dict[str, str] = {}

    def evaluate(store: Store, now: datetime) -> dict[str, list[tuple[dict[str, str], float | None]]]:
        found: dict[str, list[tuple[dict[str, str], float | None]]] = {}
        for condition, labels, held, burn in evaluate_alert_conditions(store, slos, now):
            if held:
                found.setdefault(keys[condition.name], []).append(
                    ({k: v for k, v in labels.items() if k not in condition.labels}, burn)
                )
        return found

    family = Computed("slo-burn", evaluate)
    for slo in slos:
        for condition in slo_alert_conditions(slo):
            rule = Rule(
                slo.alerting.name or SLO_ALERT,
                family,
                group=f"slo:{condition.name}",
                labels={k: _literal(v) for k, v in condition.labels.items()},
                annotations={k: _literal(v) for k, v in condition.annotations.items()},
                source="slo",
                file=files.get(slo.name),
                templates="go",
            )
            keys[condition.name] = rule.key
            rules.append(rule)
    return rules


def _literal(text: str) -> str:
    """Text that renders as itself through the (Go) label/annotation template engine."""
    if "{" not in str(text):
        return str(text)
    return "{{ " + quote(str(text)) + " }}"  # one Go string constant: printed as it is
