"""`oncall alerts`: every alert (console rules, SLOs, collector health, Alertmanager) and silences."""

from __future__ import annotations

import argparse
import sys
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from console.cli.context import CliError, Context, add_format
from console.cli.times import add_at, allow_relative, as_of, evaluation_time, parse_time
from console.config.durations import parse_duration
from console.core.output import render
from console.core.terminal import escape

if TYPE_CHECKING:
    from console.alerts.asof import AlertsAt
    from console.alerts.lifecycle import Alert
    from console.alerts.listing import ListedAlert
    from console.alerts.silences import Silence
    from console.core.identity import Actor


def register(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser(
        "alerts",
        help="alerts: state, since, labels, value, silenced",
        description="Pending, firing and recently resolved alerts from every "
        "source, with whether a silence or inhibition mutes them.",
    )
    parser.add_argument(
        "--state",
        choices=("pending", "firing", "resolved", "suppressed"),
        action="append",
        help="only these states (repeatable)",
    )
    parser.add_argument(
        "--group-by", metavar="LABELS", help="group by these labels, comma-separated (e.g. service,severity)"
    )
    add_format(parser)
    add_at(parser, "the alerts as of TIME instead of now (the rules replayed on the stored history)")
    parser.set_defaults(func=run_list)
    commands = parser.add_subparsers(title="subcommands", metavar="SUBCOMMAND")

    silence = commands.add_parser(
        "silence",
        help="silence alerts matching label matchers",
        description="Create a silence (needs allow_actions). Matchers: name=value, name!=value, "
        "name=~regex, name!~regex. When the workspace names an Alertmanager, the "
        "silence is created there too.",
    )
    allow_relative(silence)
    silence.add_argument("matchers", nargs="+", metavar="MATCHER")
    silence.add_argument("--for", dest="duration", default="2h", help="how long (default 2h)")
    silence.add_argument("--start", default="now", help="start: now, -DURATION, epoch seconds or ISO time")
    silence.add_argument("--comment", required=True, help="why (kept with the silence)")
    silence.add_argument(
        "--author",
        default=None,
        help="on whose behalf (default: $ONCALL_ACTOR); your OS account is recorded as the author either way",
    )
    silence.set_defaults(func=run_silence)

    expire = commands.add_parser(
        "expire", help="end a silence early", description="Expire a silence now (needs allow_actions)."
    )
    expire.add_argument("id", help="silence id (a unique prefix is enough)")
    expire.add_argument("--author", default=None)
    expire.set_defaults(func=run_expire)

    listing = commands.add_parser(
        "silences", help="list silences", description="Active and pending silences (--all: expired too)."
    )
    listing.add_argument("--all", action="store_true", help="include expired silences")
    add_format(listing)
    listing.set_defaults(func=run_silences)


_COLUMNS = [
    "state",
    "name",
    "since",
    "labels",
    "value",
    "silenced",
    "inhibited",
    "source",
    "fingerprint",
    "stale",
]


def run_list(ctx: Context) -> int:
    from console.alerts.listing import SHOWN_STATES, list_alerts
    from console.alerts.silences import load_silences

    now = evaluation_time(ctx.args.at, ctx.now())  # a bad --at fails before the store is opened
    store = ctx.read_store()
    silences = load_silences(store, now)
    _warn_refused(silences, now)
    inhibit_rules = ctx.config(store).inhibit_rules  # a rule file that does not load keeps its last good ones
    replayed = None if ctx.args.at is None else _replayed(ctx, store, now)
    listed = list_alerts(
        store,
        now,
        inhibit_rules,
        silences=silences,
        states=ctx.args.state or SHOWN_STATES,
        alerts=None if replayed is None else replayed.alerts,
    )
    as_json = ctx.fmt == "json"
    rows = [_json_row(entry, now) if as_json else _table_row(entry) for entry in listed]
    columns = _COLUMNS + (["status", "at"] if as_json else [])
    if replayed is not None and not as_json:
        ctx.out(f"{as_of(now)} (rules replayed from {replayed.start:%Y-%m-%d %H:%M:%S})")
    group_by = _group_labels(ctx.args.group_by)
    if group_by:
        columns, rows = ["group", *columns], _grouped(listed, rows, group_by)
    ctx.out(render(columns, rows, ctx.fmt))
    return 1 if ctx.config_failed() else 0


def _replayed(ctx: Context, store: Any, at: datetime) -> AlertsAt:
    """The workspace's rules replayed up to `at`; what the replay cannot show is said on stderr."""
    from console.alerts.asof import alerts_at
    from console.alerts.persistence import load_alerts
    from console.cli.commands.rules import workspace_rules

    replayed = alerts_at(
        store, workspace_rules(ctx, store)[0], at, windows=ctx.workspace.config.promql.windows
    )
    for key, error in replayed.errors.items():
        print(f"oncall: --at: rule {escape(key)}: {escape(error)}", file=sys.stderr)
    if load_alerts(store, external=True):
        print(
            "oncall: --at: Alertmanager's alerts are not shown: the store keeps only their current state",
            file=sys.stderr,
        )
    clipped = [a for a in replayed.alerts if replayed.clipped(a)]
    if clipped:
        print(
            f"oncall: --at: {len(clipped)} alert(s) active since the replay began "
            f"({min(a.active_since or at for a in clipped):%Y-%m-%d %H:%M:%S}) may have been active longer",
            file=sys.stderr,
        )
    return replayed


def _group_labels(option: str | None) -> list[str]:
    """--group-by's label names (comma-separated; blanks ignored)."""
    return [g.strip() for g in (option or "").split(",") if g.strip()]


def _labels(alert: Alert) -> dict[str, str]:
    return {k: v for k, v in sorted(alert.labels.items()) if k != "alertname"}


def _json_row(entry: ListedAlert, at: datetime) -> list[Any]:
    """An alert in JSON, with its status as Alertmanager's API v2 reports it, and the time it holds at."""
    a = entry.alert
    state = "active" if entry.state == "firing" else entry.state
    status = {"state": state, "silencedBy": a.silenced_by, "inhibitedBy": a.inhibited_by}
    return [
        entry.state,
        a.name,
        entry.since,
        _labels(a),
        a.value,
        a.silenced_by,
        a.inhibited_by,
        a.source,
        a.fingerprint,
        a.stale,
        status,
        at,
    ]


def _table_row(entry: ListedAlert) -> list[Any]:
    a = entry.alert
    labels = ",".join(f"{k}={v}" for k, v in _labels(a).items())
    silenced, inhibited = ("yes" if a.silenced_by else ""), ("yes" if a.inhibited_by else "")
    return [
        entry.state,
        a.name,
        entry.since,
        labels,
        a.value,
        silenced,
        inhibited,
        a.source,
        a.fingerprint,
        a.stale,
    ]


def _grouped(listed: list[ListedAlert], rows: list[list[Any]], group_by: list[str]) -> list[list[Any]]:
    """Each row led by its group (`service=api,severity=page`), in the groups' order."""
    keyed = [
        [",".join(f"{g}={e.alert.labels.get(g, '')}" for g in group_by), *row] for e, row in zip(listed, rows)
    ]
    return sorted(keyed, key=lambda r: r[0])


def _warn_refused(silences: list[Silence], now: datetime) -> None:
    """One stderr line for each stored silence that mutes nothing because Alertmanager would refuse it."""
    for silence in silences:
        if silence.state(now) == "refused":
            print(
                f"oncall: silence {silence.id} mutes nothing: {escape(silence.refused)}; expire it with "
                f"`oncall alerts expire {silence.id}`",
                file=sys.stderr,
            )


def _require_actions(ctx: Context, action: str, target: str | None) -> None:
    """A read-only workspace refuses silences; the attempt is audited as `denied`."""
    if not ctx.workspace.allow_actions:
        ctx.deny(
            action,
            target,
            f"silences change what pages; set `allow_actions: true` in {ctx.workspace.path} to allow them",
            reason=getattr(ctx.args, "comment", None),
        )


def _author(ctx: Context) -> Actor:
    """The OS account that acts, on behalf of --author (or $ONCALL_ACTOR) when given."""
    return ctx.actor(claim=ctx.args.author)


def run_silence(ctx: Context) -> int:
    from console.alerts.alertmanager import AlertmanagerError, from_workspace
    from console.alerts.silences import create_silence
    from console.rules.matchers import parse_matcher

    _require_actions(ctx, "silence.create", ", ".join(ctx.args.matchers))
    try:
        matchers = [parse_matcher(m) for m in ctx.args.matchers]
        duration = parse_duration(ctx.args.duration)
    except ValueError as exc:
        raise CliError(str(exc)) from None
    if duration <= timedelta(0):
        raise CliError("--for must be positive")
    now = ctx.now()
    start = parse_time(ctx.args.start, now, "--start")
    store = ctx.write_store()
    try:
        silence = create_silence(
            store,
            matchers,
            start,
            start + duration,
            created_by=_author(ctx),
            comment=ctx.args.comment,
            now=now,
            alertmanager=from_workspace(ctx.workspace),
        )
    except AlertmanagerError as exc:
        raise CliError(f"silence not created: {exc}", code=1) from None
    except ValueError as exc:
        raise CliError(str(exc)) from None
    ctx.out(
        f"silence {silence.id} until {silence.ends_at:%Y-%m-%d %H:%M:%S}: "
        f"{escape(', '.join(str(m) for m in matchers))}"
        + (f" (Alertmanager {silence.external_id})" if silence.external_id else "")
    )
    return 0


def run_expire(ctx: Context) -> int:
    from console.alerts.alertmanager import AlertmanagerError, from_workspace
    from console.alerts.silences import expire_silence, get_silence

    _require_actions(ctx, "silence.expire", ctx.args.id)
    store = ctx.write_store()
    silence = get_silence(store, ctx.args.id)
    if silence is None:
        raise CliError(f"no single silence with id {ctx.args.id!r}; see `oncall alerts silences`")
    try:
        expire_silence(
            store, silence, now=ctx.now(), actor=_author(ctx), alertmanager=from_workspace(ctx.workspace)
        )
    except AlertmanagerError as exc:
        raise CliError(f"silence not expired: {exc}", code=1) from None
    ctx.out(f"silence {silence.id} expired at {silence.ends_at:%Y-%m-%d %H:%M:%S}")
    return 0


def run_silences(ctx: Context) -> int:
    from console.alerts.silences import load_silences

    now = ctx.now()
    silences = load_silences(ctx.read_store(), now, include_expired=ctx.args.all)
    _warn_refused(silences, now)
    columns = ["id", "state", "matchers", "starts_at", "ends_at", "created_by", "comment", "alertmanager_id"]
    rows = [
        [
            s.id,
            s.state(now),
            ", ".join(str(m) for m in s.matchers),
            s.starts_at,
            s.ends_at,
            s.created_by,
            s.comment,
            s.external_id,
        ]
        for s in silences
    ]
    ctx.out(render(columns, rows, ctx.fmt))
    return 0
