"""The workspace's `team:` key: where the team's shared state lives (a Postgres database).

The connection string is a secret: a `postgresql://` URL given inline (`postgres:`) is held as
a `SecretStr`, so no repr, dump or validation error shows it; or it lives in `dsn_file`, a 0600
file (URL or libpq's `key=value` pairs) read when the backend connects (console/team/dsn.py).
"""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, SecretStr, model_validator

from console.config.durations import parse_duration

URL_SCHEMES = ("postgresql://", "postgres://")


class TeamConfig(BaseModel):
    """`team: {postgres: URL} | {dsn_file: PATH}`, the team identity `user:`, and timeouts."""

    model_config = ConfigDict(extra="forbid")

    postgres: SecretStr | None = None
    dsn_file: str | None = Field(default=None, min_length=1)
    user: str | None = Field(default=None, min_length=1, max_length=200, pattern=r"^[^\x00-\x1f\x7f]+$")
    connect_timeout: Annotated[timedelta, BeforeValidator(parse_duration)] = timedelta(seconds=5)
    statement_timeout: Annotated[timedelta, BeforeValidator(parse_duration)] = timedelta(seconds=30)

    @model_validator(mode="after")
    def _one_source(self) -> TeamConfig:
        given = [name for name in ("postgres", "dsn_file") if getattr(self, name) is not None]
        if len(given) != 1:
            raise ValueError(
                "give exactly one of postgres (a postgresql:// URL) or dsn_file (a 0600 file "
                f"holding the connection string); got {' and '.join(given) or 'neither'}"
            )
        if self.postgres is not None and not self.postgres.get_secret_value().startswith(URL_SCHEMES):
            raise ValueError(
                "postgres must be a postgresql:// URL; put libpq key=value pairs in a dsn_file instead"
            )
        if self.connect_timeout < timedelta(seconds=1) or self.statement_timeout <= timedelta(0):
            raise ValueError("connect_timeout is at least 1s and statement_timeout more than 0s")
        return self
