"""`oncall`: the console by default, and the commands around it."""

from __future__ import annotations

import argparse
import importlib
import os
import pkgutil
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, NoReturn

from console.cli import commands
from console.config.workspace import Workspace, WorkspaceError
from console.core.secrets import redact
from console.core.terminal import escape, guard_streams
from console.store import Store, StoreError, StoreLocked
from console.store.db import StoreNeedsRepair


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
    caller: Any = None  # identity.Caller of a forwarded command
    _config: Any = None

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

    def actor(self, claim: str | None = None) -> Any:
        """Who acts (`identity.Actor`): the OS account of the process that asked (a forwarded
        command's client, by SO_PEERCRED), for `claim`, --actor or $ONCALL_ACTOR if given."""
        from console.core.identity import actor_for

        if self.caller is not None:
            uid, claimed = self.caller.uid, self.caller.claim
        else:
            uid, claimed = os.getuid(), os.environ.get("ONCALL_ACTOR")
        return actor_for(uid, claim or getattr(self.args, "actor", None) or claimed)

    @property
    def workspace(self) -> Workspace:
        """The workspace, or its last good version when it no longer loads."""
        if self._workspace is None:
            from console.runtime.lastgood import open_workspace

            self._workspace = open_workspace(self.args.workspace)
        return self._workspace

    def config(self, store: Store) -> Any:
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
            if _owner_listens(locked):
                raise Forward(locked) from None  # the owner answers; no copy of the file
            store = Store.open_read(self.store_path())
            print(f"oncall: {store.holder}; reading a read-only snapshot", file=sys.stderr)
        self._stores.append(store)
        _say_integrity(store)
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
        self._stores.append(store)
        return store

    def write_store(self) -> Store:
        """Open read-write; if another process holds the file, forward to it or exit 2."""
        if self.shared_store is not None:
            return self.shared_store
        try:
            store = Store.open(self.store_path())
        except StoreLocked as locked:
            raise Forward(locked) from None
        self._stores.append(store)
        _say_integrity(store)
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
            if _owner_listens(held.locked):
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

    def close(self) -> None:
        for store in self._stores:
            store.close()

    def out(self, text: str) -> None:
        print(text)


Handler = Callable[[Context], int]


def _owner_listens(locked: StoreLocked) -> bool:
    """Whether the holder takes forwarded commands; an unsafe socket is said on stderr."""
    from console.runtime.control import ControlError, is_listening

    try:
        return is_listening(locked.path)
    except ControlError as exc:
        print(f"oncall: {exc}", file=sys.stderr)
        return False


def _say_integrity(store: Store) -> None:
    """One stderr line per finding of lost batches not yet read again (see `oncall check`)."""
    from console.store.integrity import integrity_report

    name = store.snapshot_of or store.path
    for finding in integrity_report(store)["findings"]:
        if finding["pending"] or finding["detected_at"] is None:
            print(f"oncall: store {name}: {escape(finding['text'])}", file=sys.stderr)


def add_format(parser: argparse.ArgumentParser, choices: tuple[str, ...] = ("table", "json")) -> None:
    parser.add_argument("--format", choices=choices, default="table", help="output format")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="oncall",
        description="A terminal console for the engineer on call for ML services. "
        "With no command, opens the console on the workspace.",
    )
    parser.add_argument(
        "-w",
        "--workspace",
        help="oncall.yaml or its directory (default: $ONCALL_WORKSPACE, then ./oncall.yaml)",
    )
    parser.set_defaults(func=None)
    sub = parser.add_subparsers(title="commands", metavar="COMMAND")
    for info in sorted(pkgutil.iter_modules(commands.__path__), key=lambda m: m.name):
        module = importlib.import_module(f"{commands.__name__}.{info.name}")
        register = getattr(module, "register", None)
        if register is not None:
            register(sub)
    return parser


def fail(message: str, code: int = 2) -> NoReturn:
    print(f"oncall: {escape(redact(message))}", file=sys.stderr)
    raise SystemExit(code)


def main(
    argv: list[str] | None = None,
    *,
    store: Store | None = None,
    clock: Callable[[], datetime] | None = None,
    caller: Any = None,
) -> int:
    """Run one command; `store`, `clock` and `caller` (who sent it) are set when the store's
    owner runs a forwarded command."""
    argv = list(sys.argv[1:] if argv is None else argv)
    parser = build_parser()
    args = parser.parse_args(argv)
    handler: Handler | None = args.func
    if handler is None:
        from console.cli.commands.console import run_console

        handler = run_console
    ctx = Context(args, shared_store=store, clock=clock, caller=caller)
    try:
        return int(handler(ctx) or 0)
    except Forward as held:
        return _forward(ctx, argv, held.locked)
    except CliError as exc:
        fail(str(exc), exc.code)
    except WorkspaceError as exc:
        for problem in exc.problems:
            print(f"oncall: {escape(redact(str(problem)))}", file=sys.stderr)
        return 2
    except StoreError as exc:
        fail(str(exc))
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        return 0
    finally:
        ctx.close()


def _strip_workspace(argv: list[str]) -> list[str]:
    rest, skip = [], False
    for token in argv:
        if skip:
            skip = False
        elif token in ("-w", "--workspace"):
            skip = True
        elif not token.startswith("--workspace="):
            rest.append(token)
    return rest


def _forward(ctx: Context, argv: list[str], locked: StoreLocked) -> int:
    """Run the command in the process that holds the store, if it listens."""
    from console.runtime.control import ControlError, forward

    for store in ctx._stores:
        store.close()
    ctx._stores.clear()
    target = ["-w", str(ctx.workspace.path)] if ctx._workspace is not None else []
    try:
        answer = forward(locked.path, target + _strip_workspace(argv))
    except ControlError as exc:
        fail(f"{locked}; not forwarding: {exc}")
    if answer is None:
        fail(f"{locked}; stop it first, or run this command in that console")
    print(f"oncall: {locked}; ran this command there", file=sys.stderr)
    sys.stdout.write(str(answer.get("stdout", "")))
    sys.stderr.write(str(answer.get("stderr", "")))
    code = answer.get("code", 1)
    return code if isinstance(code, int) else 1


def entry(argv: list[str] | None = None) -> Any:  # pragma: no cover - console script shim
    from console.core import cleanup
    from console.core.private import restrict_umask

    guard_streams()  # nothing from outside reaches the terminal raw, whatever prints it
    restrict_umask()  # all oncall creates from here on is 0600, directories 0700
    cleanup.install()  # snapshots, the socket, the demo's temp dir: gone at exit and on signals
    try:
        code = main(argv)
    except BaseException:
        if cleanup.exit_code() is None:
            raise
        code = 0  # what a signal interrupted raised (DuckDB: "Query interrupted")
    sys.exit(cleanup.exit_code() or code)
