"""`oncall rules eval --dry-run [--at TIME]`: the alerts the rules give at a time, from a replay
of the stored history (`console.alerts.asof`); nothing is written, nothing sent."""

from __future__ import annotations

from typing import TYPE_CHECKING

from console.cli.context import Context
from console.cli.times import as_of
from console.core.output import dumps, render
from console.core.terminal import escape

if TYPE_CHECKING:
    from datetime import datetime

    from console.rules.model import Rule
    from console.store import Store


def dry_run(ctx: Context, store: Store, rules: list[Rule], at: datetime) -> int:
    """The alerts `rules` give at `at`, replayed; nothing written, nothing sent."""
    from console.alerts.asof import alerts_at

    replayed = alerts_at(store, rules, at, windows=ctx.workspace.config.promql.windows)
    alerts = sorted(
        (a for a in replayed.alerts if a.state != "inactive"), key=lambda a: (a.rule, a.fingerprint)
    )
    if ctx.fmt == "json":
        transitions = [
            {
                "rule": t.rule,
                "fingerprint": t.fingerprint,
                "from": t.from_state,
                "to": t.to_state,
                "labels": t.labels,
            }
            for t in replayed.transitions
        ]
        fields = ("rule", "name", "state", "labels", "active_since", "fired_at", "resolved_at", "value")
        ctx.out(
            dumps(
                {
                    "at": at,
                    "dry_run": True,
                    "replayed_from": replayed.start,
                    "evaluated": replayed.evaluated,
                    "failing": replayed.errors,
                    "transitions": transitions,
                    "alerts": [{f: getattr(a, f) for f in fields} for a in alerts],
                }
            )
        )
    else:
        ctx.out(
            f"dry run, {as_of(at)}: {replayed.evaluated} rule(s) replayed from "
            f"{replayed.start:%Y-%m-%d %H:%M:%S}; nothing written or sent"
        )
        for t in replayed.transitions:
            labels = ",".join(f"{k}={v}" for k, v in sorted(t.labels.items()))
            ctx.out(escape(f"  {t.rule} {{{labels}}}: {t.from_state} -> {t.to_state}"))
        for key, error in replayed.errors.items():
            ctx.out(f"  failing: {escape(key)}: {escape(error)}")
        rows = [[a.state, a.rule, _labels_text(a.labels), a.active_since, a.value] for a in alerts]
        ctx.out(render(["state", "rule", "labels", "since", "value"], rows, "table"))
    return 1 if replayed.errors or ctx.config_failed() else 0


def _labels_text(labels: dict[str, str]) -> str:
    return ",".join(f"{k}={v}" for k, v in sorted(labels.items()) if k != "alertname")
