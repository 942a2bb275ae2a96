"""The team backend: the team's shared state (incidents, timeline, alerts, silences, audit…) in Postgres."""

from console.team.backend import Health, TeamBackend, TeamError, TeamUnreachable
from console.team.dsn import Dsn, TeamConfigError, resolve_dsn

__all__ = ["Dsn", "Health", "TeamBackend", "TeamConfigError", "TeamError", "TeamUnreachable", "resolve_dsn"]
