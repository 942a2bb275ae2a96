"""`oncall team init | import | status`: the team database that holds the shared state (docs/team.md).

The workspace names it (`team: {postgres: URL} | {dsn_file: PATH}`); its DSN is shown masked
everywhere.  Exit 0 ok, 1 the database failed or has a problem, 2 no usable `team:` key.
"""

from __future__ import annotations

import argparse
import os
import socket
from typing import TYPE_CHECKING

from console.cli.context import CliError, Context, add_format
from console.core.output import dumps
from console.core.terminal import escape

if TYPE_CHECKING:
    from console.team import TeamBackend

def register(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser(
        "team",
        help="the team database (Postgres) for shared incidents, timeline, silences and audit",
        description="Create the team database's schema, copy a local store into it, or say its health.",
    )
    parser.set_defaults(func=_no_command)
    inner = parser.add_subparsers(title="team commands", metavar="COMMAND")
    init = inner.add_parser(
        "init",
        help="create or migrate the shared schema (idempotent)",
        description="Create the `oncall` schema in the team database, or bring it up to date.",
    )
    add_format(init)
    init.set_defaults(func=run_init)
    copy = inner.add_parser(
        "import",
        help="copy the local store's shared tables into the team database, once",
        description="Copy incidents, timeline, playbook runs, alerts and their history, silences, "
        "version marks and audit from the workspace's store. A second run copies nothing again; "
        "ids are kept where free, renumbered where another store's rows hold them.",
    )
    copy.add_argument("--store", help="the DuckDB store to copy (default: the workspace's)")
    copy.add_argument(
        "--origin",
        help="the name this store's rows are remembered under (default: HOST:STORE-PATH); "
        "give the same one if the file moved since an earlier import",
    )
    add_format(copy)
    copy.set_defaults(func=run_import)
    status = inner.add_parser(
        "status",
        help="the team database's health: reachable, schema version, latency",
        description="Connect to the team database and say its health in one line (exit 1 on a problem).",
    )
    add_format(status)
    status.set_defaults(func=run_status)


def _no_command(ctx: Context) -> int:
    raise CliError("give a team command: init, import or status (oncall team --help)")


def team_backend(ctx: Context) -> TeamBackend:
    """The workspace's team backend; CliError (2) when `team:` is missing or unusable."""
    from console.team import TeamBackend, TeamConfigError

    ws = ctx.workspace
    if ws.config.team is None:
        raise CliError(f"{ws.path} has no `team:` key; add `team: {{dsn_file: PATH}}` (docs/team.md)")
    try:
        return TeamBackend.from_config(ws.config.team, ws.root)
    except TeamConfigError as exc:
        raise CliError(f"{ws.path}: {exc}") from None


def run_init(ctx: Context) -> int:
    from console.team import TeamError

    backend = team_backend(ctx)
    try:
        before, after = backend.migrate(ctx.now())
    except TeamError as exc:
        raise CliError(str(exc), 1) from None
    if ctx.fmt == "json":
        print(dumps({"team": backend.where, "from_version": before, "schema_version": after}))
    elif before == after:
        print(escape(f"team database {backend.where}: schema v{after}, up to date"))
    elif before == 0:
        print(escape(f"team database {backend.where}: schema created (v{after})"))
    else:
        print(escape(f"team database {backend.where}: schema migrated v{before} → v{after}"))
    return 0


def run_import(ctx: Context) -> int:
    from console.team import TeamError
    from console.team.importer import import_store

    backend = team_backend(ctx)
    store = ctx.read_store()
    path = store.snapshot_of or store.path
    origin = ctx.args.origin or f"{socket.gethostname()}:{os.path.realpath(path)}"
    actor = ctx.actor()
    try:
        result = import_store(backend, store, origin=origin, now=ctx.now(), actor=actor, uid=actor.uid)
    except TeamError as exc:
        raise CliError(str(exc), 1) from None
    if ctx.fmt == "json":
        print(dumps({"team": backend.where, "store": str(path), **result.as_dict()}))
        return 0
    print(escape(f"team database {backend.where} ← store {path} (origin {origin})"))
    for table, counts in result.as_dict()["tables"].items():
        if table in result.missing:
            print(escape(f"  {table:<14} not in this store (an older schema)"))
            continue
        renumbered = f", {counts['renumbered']} under new ids" if counts["renumbered"] else ""
        print(
            escape(
                f"  {table:<14} {counts['copied']} copied{renumbered}, "
                f"{counts['already_there']} already there (of {counts['local']})"
            )
        )
    print(f"{result.total_copied} row(s) copied" if result.total_copied else "nothing to copy: all there")
    return 0


def run_status(ctx: Context) -> int:
    health = team_backend(ctx).health()
    if ctx.fmt == "json":
        print(dumps(health.as_dict()))
    else:
        print(escape(health.line()))
        if health.user:
            print(escape(f"  team identity {health.user}"))
        print(
            "  incidents, timeline, alerts, silences, playbook runs, rollback marks and audit are "
            "read and written here; metrics, logs and predictions stay in each console's store"
        )
    return 1 if health.problem else 0
