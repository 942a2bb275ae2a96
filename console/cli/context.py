"""What every command is handed: the parsed arguments, the workspace, the store, the clock.

`console.cli.main` builds the parser from `console.cli.commands` and runs one; the commands
import this module, never `main`.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, NoReturn

from console.config.workspace import Workspace
from console.core.secrets import redact
from console.core.terminal import escape
from console.store import Store, StoreLocked
from console.store.db import StoreNeedsRepair

if TYPE_CHECKING:
    from console.core.identity import Actor, Caller
    from console.runtime.lastgood import Config
    from console.runtime.session import CommandRunner


class CliError(Exception):
    """An expected failure: printed as one line, exits with `code`."""

    def __init__(self, message: str, code: int = 2) -> None:
        super().__init__(message)
        self.code = code


class Forward(Exception):
    """The store is held by another process: run this command there, if it listens."""

    def __init__(self, locked: StoreLocked) -> None:
        super().__init__(str(locked))
        self.locked = locked


@dataclass
class Context:
    """What a command needs: parsed args, the workspace and the store, opened on demand.

    In the process that owns the store (the console, the demo), commands forwarded over
    the control socket run with `shared_store` and that process's `clock`.
    """

    args: argparse.Namespace
    _workspace: Workspace | None = None
    _stores: list[Store] = field(default_factory=list)
    shared_store: Store | None = None
    clock: Callable[[], datetime] | None = None
    caller: Caller | None = None  # who sent a forwarded command
    run_command: CommandRunner | None = None  # what runs commands forwarded to a console we open
    _config: Config | None = None

    @property
    def fmt(self) -> str:
        return getattr(self.args, "format", None) or "table"

    def now(self) -> datetime:
        """The wall clock, read here (the CLI) and passed down; UTC, naive."""
        if self.clock is not None:
            return self.clock()
        override = os.environ.get("ONCALL_NOW")
        if override:
            return (
                datetime.fromisoformat(override.replace("Z", "+00:00")).astimezone(UTC).replace(tzinfo=None)
            )
        return datetime.now(UTC).replace(tzinfo=None)

    def actor(self, claim: str | None = None) -> Actor:
        """Who acts (`identity.Actor`): the OS account of the process that asked (a forwarded
        command's client, by SO_PEERCRED), for `claim`, --actor or $ONCALL_ACTOR if given, else
        for the workspace's team identity (`team.user`)."""
        from console.core.identity import actor_for

        if self.caller is not None:
            uid, claimed = self.caller.uid, self.caller.claim
        else:
            uid, claimed = os.getuid(), os.environ.get("ONCALL_ACTOR")
        return actor_for(uid, claim or getattr(self.args, "actor", None) or claimed, self.team_user())

    def team_user(self) -> str | None:
        """The workspace's team identity (`team: {user: ...}`); None without one or without a workspace."""
        from console.config.workspace import WorkspaceError

        try:
            team = self.workspace.config.team
        except WorkspaceError:  # a command on a store given by path: no team identity to claim
            return None
        return team.user if team is not None else None

    @property
    def workspace(self) -> Workspace:
        """The workspace, or its last good version when it no longer loads."""
        if self._workspace is None:
            from console.runtime.lastgood import open_workspace

            self._workspace = open_workspace(self.args.workspace)
        return self._workspace

    @workspace.setter
    def workspace(self, workspace: Workspace) -> None:
        self._workspace = workspace

    @property
    def workspace_loaded(self) -> bool:
        return self._workspace is not None

    def config(self, store: Store | None) -> Config:
        """The configuration in force (`console.runtime.lastgood.Config`), read once; each file that
        does not load is said on stderr, with what is in force instead."""
        if self._config is None:
            from console.runtime.lastgood import load_config

            self._config = load_config(self.workspace, store, self.now())
            for line in self._config.lines():
                print(f"oncall: {escape(line)}", file=sys.stderr)
        return self._config

    def config_failed(self) -> bool:
        """Whether a file of the configuration did not load (the command then exits 1)."""
        return bool(self._config is not None and self._config.problems)

    def store_path(self) -> str:
        return getattr(self.args, "store", None) or str(self.workspace.store_path)

    def read_store(self) -> Store:
        """Open for reading; if a writer holds it, say who and read a snapshot."""
        if self.shared_store is not None:
            return self.shared_store
        try:
            store = Store.open_read(self.store_path(), snapshot=False)
        except StoreLocked as locked:
            if owner_listens(locked):
                raise Forward(locked) from None  # the owner answers; no copy of the file
            store = Store.open_read(self.store_path())
            print(f"oncall: {store.holder}; reading a read-only snapshot", file=sys.stderr)
        self._keep(store)
        say_integrity(store)
        return store

    def cache_store(self) -> Store:
        """For reads that keep derived data (SLO rollups): writable when nobody holds the file,
        it exists and its journal matches it; otherwise read-only (nothing is created or set aside)."""
        if self.shared_store is not None:
            return self.shared_store
        try:
            store = Store.open(self.store_path(), repair=False)
        except (StoreLocked, StoreNeedsRepair):
            return self.read_store()
        self._keep(store)
        return store

    def write_store(self) -> Store:
        """Open read-write; if another process holds the file, forward to it or exit 2."""
        if self.shared_store is not None:
            return self.shared_store
        try:
            store = Store.open(self.store_path())
        except StoreLocked as locked:
            raise Forward(locked) from None
        self._keep(store)
        say_integrity(store)
        return store

    def deny(
        self, action: str, target: str | None, why: str, *, reason: str | None = None, params: Any = None
    ) -> NoReturn:
        """Refuse an attempt, audited as `denied` (forwarded to the store's owner if it
        listens); raises CliError with `why`."""
        from console.store.audit import audit_denied

        try:
            store = self.write_store()
        except Forward as held:
            if owner_listens(held.locked):
                raise
            raise CliError(f"{why} (not audited: {held.locked})") from None
        audit_denied(
            store,
            ts=self.now(),
            actor=self.actor(),
            action=action,
            target=target,
            why=why,
            reason=reason,
            params=params,
        )
        raise CliError(why)

    def _keep(self, store: Store) -> None:
        """Close `store` with the context; its shared tables in the team database if `team:` names one."""
        self._stores.append(store)
        from console.config.workspace import WorkspaceError

        try:
            workspace = self.workspace
        except WorkspaceError:
            if getattr(self.args, "store", None) is None:
                raise
            return  # a store named by --store with no workspace: no team to share with
        if workspace.config.team is not None:
            from console.team.shared import attach

            attach(store, workspace.config.team, workspace.root)

    def close(self) -> None:
        for store in self._stores:
            store.close()
        self._stores.clear()

    def out(self, text: str) -> None:
        print(text)


Handler = Callable[[Context], int]


def owner_listens(locked: StoreLocked) -> bool:
    """Whether the holder takes forwarded commands; an unsafe socket is said on stderr."""
    from console.runtime.control import ControlError, is_listening

    try:
        return is_listening(locked.path)
    except ControlError as exc:
        print(f"oncall: {exc}", file=sys.stderr)
        return False


def say_integrity(store: Store) -> None:
    """One stderr line per finding of lost batches not yet read again (see `oncall check`)."""
    from console.store.integrity import integrity_report

    name = store.snapshot_of or store.path
    for finding in integrity_report(store)["findings"]:
        if finding["pending"] or finding["detected_at"] is None:
            print(f"oncall: store {name}: {escape(finding['text'])}", file=sys.stderr)


def add_format(parser: argparse.ArgumentParser, choices: tuple[str, ...] = ("table", "json")) -> None:
    parser.add_argument("--format", choices=choices, default="table", help="output format")


def fail(message: str, code: int = 2) -> NoReturn:
    print(f"oncall: {escape(redact(message))}", file=sys.stderr)
    raise SystemExit(code)
