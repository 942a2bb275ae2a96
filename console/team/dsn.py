"""The team database's connection string: read, remembered as a secret, shown masked.

`Dsn.conninfo` is what libpq gets and nothing else ever shows; `Dsn.shown` is the masked form
every message, status line and JSON uses (`postgresql://***@host:5432/db`).  A `dsn_file` must
be the user's alone (no group or other permission bits), as libpq demands of `~/.pgpass`.
"""

from __future__ import annotations

import os
import re
import stat
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from console.config.team import TeamConfig
from console.core.credentials import CredentialError, read_secret
from console.core.secrets import MASK, redact, remember, url_secrets

# values of `password=` (quoted or not) in libpq's key=value form, for masking a DSN we could not parse
_KV_PASSWORD = re.compile(r"password\s*=\s*('(?:[^'\\]|\\.)*'|\S+)", re.IGNORECASE)


class TeamConfigError(Exception):
    """The `team:` key names a connection string that cannot be used; the message says why."""


@dataclass(frozen=True)
class Dsn:
    """A resolved connection string: `conninfo` for libpq, `shown` for people."""

    conninfo: str = field(repr=False)
    shown: str
    secrets: tuple[str, ...] = field(default=(), repr=False)

    def __str__(self) -> str:
        return self.shown

    def redact(self, text: object) -> str:
        """`text` with the URL masked and every secret of this DSN as `***`, on one line."""
        return " ".join(redact(str(text), self.secrets).split())


def resolve_dsn(team: TeamConfig, base_dir: str | Path) -> Dsn:
    """The DSN `team:` names (inline or in its file); TeamConfigError says what is wrong."""
    if team.postgres is not None:
        return _parsed(team.postgres.get_secret_value(), "team.postgres")
    assert team.dsn_file is not None  # TeamConfig requires one of the two
    path = Path(base_dir, os.path.expanduser(team.dsn_file))
    _private_file(path)
    try:
        text = read_secret("team.dsn_file", file=str(path), base_dir=base_dir)
    except CredentialError as exc:
        raise TeamConfigError(str(exc)) from None
    return _parsed(text, f"team.dsn_file {path}")


def _private_file(path: Path) -> None:
    try:
        info = os.stat(path)
    except OSError as exc:
        raise TeamConfigError(
            f"option team.dsn_file: cannot read {path} ({exc.strerror or exc}); create it (mode 0600) or fix the path"
        ) from None
    mode = stat.S_IMODE(info.st_mode)
    if stat.S_ISREG(info.st_mode) and mode & 0o077:
        raise TeamConfigError(
            f"option team.dsn_file: {path} is readable by others (mode {mode:04o}); it holds the "
            f"database's credentials: chmod 600 {path}"
        )


def _parsed(conninfo: str, where: str) -> Dsn:
    """Check the string parses as libpq's, remember its secrets, and build its masked form."""
    from psycopg import ProgrammingError
    from psycopg.conninfo import conninfo_to_dict

    guessed = [*url_secrets(conninfo), *(_unquote(m) for m in _KV_PASSWORD.findall(conninfo))]
    remember(guessed)
    try:
        params = conninfo_to_dict(conninfo)
    except ProgrammingError as exc:
        reason = " ".join(redact(str(exc), guessed).split())
        raise TeamConfigError(
            f"{where}: not a PostgreSQL connection string ({reason}); give a postgresql:// URL "
            "or libpq's key=value pairs"
        ) from None
    password = params.get("password")
    secrets = tuple(s for s in [*guessed, str(password or "")] if s)
    remember(secrets)
    return Dsn(conninfo, _shown(params), secrets)


def _unquote(value: str) -> str:
    if len(value) >= 2 and value[0] == value[-1] == "'":
        return re.sub(r"\\(.)", r"\1", value[1:-1])
    return value.lstrip("'")  # an unterminated quote: what follows it is still the secret


def _shown(params: Mapping[str, object]) -> str:
    """`postgresql://***@host:port/dbname`: the user and password never shown, as with any URL."""
    hidden = f"{MASK}@" if params.get("user") or params.get("password") else ""
    host = str(params.get("host") or params.get("hostaddr") or "localhost")
    port = f":{params['port']}" if params.get("port") else ""
    return f"postgresql://{hidden}{host}{port}/{params.get('dbname') or ''}"
