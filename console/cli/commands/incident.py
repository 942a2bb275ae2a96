"""`oncall incident`: list, show, move along the lifecycle, note, assign roles, declare and export incidents."""

from __future__ import annotations

import argparse
import dataclasses
import sys
from typing import TYPE_CHECKING, Any

from console.cli.context import CliError, Context
from console.cli.times import add_at, as_of, evaluation_time
from console.core.output import dumps, render_table
from console.core.terminal import escape

if TYPE_CHECKING:
    from datetime import datetime

    from console.incidents.lifecycle import Incident
    from console.store import Store


def actor(ctx: Context | None = None) -> Any:
    """Who acts (`identity.Actor`): the OS account of the process that asked, on behalf of
    $ONCALL_ACTOR if set (for a forwarded command, the client's account and claim)."""
    from console.core.identity import current_actor

    return ctx.actor() if ctx is not None else current_actor()


def register(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser(
        "incident",
        help="incidents: list, show, ack, resolve, note, assign, followup, export",
        description="Work with incidents kept in the store.",
    )
    verbs = parser.add_subparsers(title="verbs", metavar="VERB", dest="verb", required=True)
    listing = verbs.add_parser("list", help="incidents, newest first")
    listing.add_argument("--open", action="store_true", help="only incidents not yet resolved")
    show = verbs.add_parser("show", help="one incident and its timeline")
    show.add_argument("id", type=int)
    for view in (listing, show):
        add_at(view, "as the incidents stood at TIME (status, milestones, timeline)")
    for verb, help_text in (
        ("ack", "acknowledge"),
        ("mitigate", "mark mitigated"),
        ("resolve", "mark resolved"),
        ("close", "close"),
    ):
        move = verbs.add_parser(verb, help=help_text)
        move.add_argument("id", type=int)
        move.add_argument("--note", help="a note for the timeline")
    note = verbs.add_parser("note", help="add a note to the timeline")
    note.add_argument("id", type=int)
    note.add_argument("text")
    followup = verbs.add_parser("followup", help="add a follow-up action item for the postmortem")
    followup.add_argument("id", type=int)
    followup.add_argument("text")
    followup.add_argument("--owner", help="who will do it")
    followups = verbs.add_parser("followups", help="an incident's follow-ups")
    followups.add_argument("id", type=int)
    assign = verbs.add_parser("assign", help="set the commander, add or remove responders")
    assign.add_argument("id", type=int)
    assign.add_argument("--commander", metavar="NAME", help="the incident's commander from now on")
    assign.add_argument(
        "--responder", metavar="NAME", action="append", default=[], help="add a responder (repeatable)"
    )
    assign.add_argument(
        "--remove-responder",
        metavar="NAME",
        action="append",
        default=[],
        help="remove a responder (repeatable)",
    )
    declare = verbs.add_parser("declare", help="declare from an alert fingerprint or by hand")
    declare.add_argument("--alert", help="alert fingerprint (prefix is fine)")
    declare.add_argument("--title")
    declare.add_argument("--severity", choices=("SEV1", "SEV2", "SEV3", "SEV4"))
    declare.add_argument(
        "--split", action="store_true", help="a new incident even if the alert's group already has one open"
    )
    export = verbs.add_parser("export", help="postmortem draft")
    export.add_argument("id", type=int)
    for p in (
        listing,
        show,
        declare,
        *(
            verbs.choices[v]
            for v in ("ack", "mitigate", "resolve", "close", "note", "followup", "followups", "assign")
        ),
    ):
        p.add_argument("--format", choices=("table", "json"), default="table")
    export.add_argument("--format", choices=("md", "json"), default="md")
    parser.set_defaults(func=run)


def _as_dict(incident: Any, now: Any) -> dict[str, Any]:
    from console.incidents.lifecycle import format_span
    from console.incidents.roles import responders_of

    return {
        "id": incident.id,
        "title": incident.title,
        "severity": incident.severity,
        "status": incident.status,
        "commander": incident.commander,
        "responders": responders_of(incident.detail),
        "created_at": incident.created_at,
        "acked_at": incident.acked_at,
        "mitigated_at": incident.mitigated_at,
        "resolved_at": incident.resolved_at,
        "closed_at": incident.closed_at,
        "alerts": incident.alerts,
        "age": format_span(incident.age(now)),
        "tta": format_span(incident.time_to_ack),
        "ttr": format_span(incident.time_to_resolve),
    }


def run(ctx: Context) -> int:
    from console.incidents import lifecycle as incidents

    args, now = ctx.args, ctx.now()
    try:
        if args.verb == "followup":
            return _add_followup(ctx, ctx.write_store(), now)
        if args.verb == "assign":
            return _assign(ctx, ctx.write_store(), now)
        if args.verb in ("list", "show", "export", "followups"):
            at = evaluation_time(getattr(args, "at", None), now)  # before the store is opened
            store = ctx.read_store()
            if args.verb == "followups":
                return _followups(ctx, store)
            if args.verb == "export":
                return _export(ctx, store, args.id, now)
            if args.verb == "list":
                return _list(ctx, store, at)
            return _show(ctx, store, at)
        incident = _change(ctx, ctx.write_store(), now)
    except incidents.IncidentError as exc:
        raise CliError(str(exc), 2) from None
    if ctx.fmt == "json":
        print(dumps(_as_dict(incident, now)))
    else:
        print(f"incident {incident.id}: {incident.status} ({incident.severity}) {escape(incident.title)}")
    return 0


def as_it_was(incident: Incident, at: datetime) -> Incident:
    """The incident as it stood at `at`: milestones after `at` not yet reached, its status the
    last one reached (title, severity and commander are as they are now)."""
    from console.incidents.lifecycle import MILESTONE

    def by_then(when: datetime | None) -> datetime | None:
        return when if when is not None and when <= at else None

    then = dataclasses.replace(
        incident,
        acked_at=by_then(incident.acked_at),
        mitigated_at=by_then(incident.mitigated_at),
        resolved_at=by_then(incident.resolved_at),
        closed_at=by_then(incident.closed_at),
    )
    status = "triggered"
    for name, column in MILESTONE.items():  # in lifecycle order
        if getattr(then, column) is not None:
            status = name
    return dataclasses.replace(then, status=status)


def _list(ctx: Context, store: Store, now: datetime) -> int:
    from console.incidents import lifecycle as incidents

    opened = incidents.OPEN_STATUSES if ctx.args.open else None
    if ctx.args.at is None:
        items = incidents.list_incidents(store, status=opened)
    else:
        then = [as_it_was(i, now) for i in incidents.list_incidents(store) if i.created_at <= now]
        items = [i for i in then if opened is None or i.status in opened]
    rows = [{**_as_dict(i, now), "at": now} for i in items]
    if ctx.fmt == "json":
        print(dumps(rows))
    else:
        if ctx.args.at is not None:
            print(as_of(now))
        cols = ["id", "severity", "status", "age", "commander", "title"]
        print(render_table(cols, [[r[c] for c in cols] for r in rows]))
    return 0


def _show(ctx: Context, store: Store, now: datetime) -> int:
    from console.incidents import lifecycle as incidents

    incident = incidents.get_incident(store, ctx.args.id)
    entries = incidents.timeline(store, ctx.args.id)
    if ctx.args.at is not None:
        if incident.created_at > now:
            raise CliError(
                f"incident {incident.id} was declared at {incident.created_at:%Y-%m-%d %H:%M:%S}, "
                f"after --at {now:%Y-%m-%d %H:%M:%S}"
            )
        incident, entries = as_it_was(incident, now), [e for e in entries if e.ts <= now]
    if ctx.fmt == "json":
        print(
            dumps(
                {
                    **_as_dict(incident, now),
                    "at": now,
                    "timeline": [
                        {"ts": e.ts, "kind": e.kind, "actor": e.actor, "text": e.text, "detail": e.detail}
                        for e in entries
                    ],
                    "followups": _followups_by(incident, now if ctx.args.at is not None else None),
                }
            )
        )
        return 0
    data = _as_dict(incident, now)
    if ctx.args.at is not None:
        print(as_of(now))
    print(f"#{incident.id} {escape(incident.title)}")
    print(
        f"{incident.severity}  {incident.status}  commander {escape(incident.commander or '—')}"
        f"  age {data['age']}  TTA {data['tta']}  TTR {data['ttr']}"
    )
    print(f"responders {escape(', '.join(data['responders']) or '—')}")
    print(
        render_table(
            ["time", "kind", "who", "what"],
            [[e.ts, e.kind, e.actor or "", e.text] for e in entries],
            100,
        )
    )
    return 0


def _followups_by(incident: Incident, at: datetime | None) -> list[dict[str, Any]]:
    """The incident's follow-ups, only those added by `at` when given."""
    from datetime import datetime

    items = incident.detail.get("followups") or []
    if at is None:
        return items
    return [i for i in items if not i.get("added_at") or datetime.fromisoformat(i["added_at"]) <= at]


def _add_followup(ctx: Context, store: Store, now: datetime) -> int:
    from console.incidents.followups import add_followup

    args = ctx.args
    item = add_followup(store, args.id, args.text, now=now, actor=actor(ctx), owner=args.owner)
    if ctx.fmt == "json":
        print(dumps({"incident": args.id, **item}))
    else:
        print(f"incident {args.id}: follow-up added: {escape(item['text'])}")
    return 0


def _assign(ctx: Context, store: Store, now: datetime) -> int:
    from console.incidents.roles import assign

    args = ctx.args
    done = assign(
        store,
        args.id,
        commander=args.commander,
        add_responders=args.responder,
        remove_responders=args.remove_responder,
        now=now,
        actor=actor(ctx),
    )
    if ctx.fmt == "json":
        print(dumps({**_as_dict(done.incident, now), "changes": done.changes}))
    else:
        print(f"incident {args.id}: {escape('; '.join(done.changes))}")
    return 0


def _followups(ctx: Context, store: Store) -> int:
    from console.incidents import lifecycle as incidents
    from console.incidents.followups import followups_of

    items = followups_of(incidents.get_incident(store, ctx.args.id).detail)
    if ctx.fmt == "json":
        print(dumps(items))
        return 0
    if not items:
        print(
            f"incident {ctx.args.id}: no follow-ups; add one with `oncall incident followup {ctx.args.id} TEXT`"
        )
        return 0
    cols = ["added_at", "added_by", "owner", "text"]
    print(render_table(cols, [[i.get(c) or "" for c in cols] for i in items], 100))
    return 0


STATUS_OF = {"ack": "acknowledged", "mitigate": "mitigated", "resolve": "resolved", "close": "closed"}


def _change(ctx: Context, store: Store, now: datetime) -> Incident:
    """note, declare, or a move along the lifecycle; the incident as it is now."""
    from console.incidents import lifecycle as incidents

    args = ctx.args
    who = actor(ctx)
    if args.verb == "note":
        incidents.add_note(store, args.id, args.text, now=now, actor=who)
        return incidents.get_incident(store, args.id)
    if args.verb != "declare":
        try:
            return incidents.transition(
                store, args.id, STATUS_OF[args.verb], now=now, actor=who, note=args.note
            )
        except incidents.AlreadyDone as exc:  # the same person again: nothing to do, exit 0 (docs/team.md)
            print(exc, file=sys.stderr)
            return incidents.get_incident(store, args.id)
    if args.alert:
        incident, created = incidents.declare_from_alert(
            store, args.alert, now=now, actor=who, split=args.split, severity=args.severity
        )
        if not created:
            print(f"alert joined open incident {incident.id} of the same group")
        return incident
    if args.title:
        return incidents.declare(store, args.title, now=now, actor=who, severity=args.severity or "SEV3")
    raise CliError("declare needs --alert FINGERPRINT or --title TEXT")


def _export(ctx: Context, store: Store, incident_id: int, now: Any) -> int:
    from console.config.workspace import WorkspaceError
    from console.incidents.postmortem import export_markdown

    workspace: Any = None
    try:
        workspace = ctx.workspace  # loaded, or there is none
    except WorkspaceError:  # a store read without a workspace: no SLOs to weigh
        slos: list[Any] = []
    else:
        slos = ctx.config(store).slos  # an SLO file that does not load is said on stderr
    text = export_markdown(store, incident_id, now=now, slos=slos, workspace=workspace)
    print(dumps({"markdown": text}) if ctx.fmt == "json" else text, end="" if ctx.fmt == "md" else "\n")
    return 0
