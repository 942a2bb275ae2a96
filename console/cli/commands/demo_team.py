"""`oncall demo --team DSN`: the demo's shared state in a team database the user runs.

The demo starts no database: `--team` names one — a `postgresql://` URL (best without its
password, which libpq then reads from `~/.pgpass` or `$PGPASSWORD`) or the path of a 0600 file
holding the connection string.  A URL is written to `team.dsn` (0600) in the demo's workspace and
the workspace's `team:` names that file, so the secret is in neither `oncall.yaml` nor any
output.  The schema is created or migrated before the console starts.  Two demos on one database
are two engineers on one incident (README, "Two consoles, one incident").
"""

from __future__ import annotations

import json
import os
from datetime import datetime
from pathlib import Path

from console.cli.context import CliError
from console.config.team import URL_SCHEMES

MARK = "# oncall demo --team"
DSN_FILE = "team.dsn"


def join_team(target: Path, given: str, *, user: str | None) -> None:
    """Point the demo workspace at `given` (a URL, or a DSN file), replacing an earlier `--team`."""
    if given.startswith(URL_SCHEMES):
        path = target / DSN_FILE
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as out:
            out.write(given + "\n")
        os.chmod(path, 0o600)  # an older file kept its mode on O_TRUNC
        ref = DSN_FILE
    else:
        found = Path(given).expanduser().resolve()
        if not found.is_file():
            raise CliError(
                f"--team {given}: neither a postgresql:// URL nor a file holding one; "
                "give the team database's connection string",
                2,
            )
        ref = str(found)
    workspace = target / "oncall.yaml"
    kept = [line for line in workspace.read_text().splitlines() if not line.endswith(MARK)]
    entry = {"dsn_file": ref, **({"user": user} if user else {})}
    kept.append(f"team: {json.dumps(entry)}  {MARK}")
    workspace.write_text("\n".join(kept) + "\n")


def prepare_team(workspace: object, now: datetime) -> str:
    """Create or migrate the team schema; the line that says so (DSN masked).  CliError (exit 1)
    when the database cannot be used."""
    from console.team import TeamBackend, TeamConfigError, TeamError

    config = workspace.config  # type: ignore[attr-defined]
    try:
        backend = TeamBackend.from_config(config.team, workspace.root)  # type: ignore[attr-defined]
        before, after = backend.migrate(now)
    except (TeamConfigError, TeamError) as exc:
        raise CliError(f"{exc}; the demo starts no database: --team names one you run", 1) from None
    schema = f"schema v{after}" + (" created" if before == 0 else " (up to date)" if before == after else "")
    return (
        f"team database {backend.where}: {schema}; incidents, timeline, alerts, silences and audit "
        "are shared with every console on it"
    )
