"""`oncall`: the console by default, and the commands around it."""

from __future__ import annotations

import argparse
import importlib
import os
import pkgutil
import sys
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any, Callable, NoReturn

from console import commands
from console.store import Store, StoreError, StoreLocked
from console.workspace import Workspace, WorkspaceError, find_workspace, load_workspace


class CliError(Exception):
    """An expected failure: printed as one line, exits with `code`."""

    def __init__(self, message: str, code: int = 2) -> None:
        super().__init__(message)
        self.code = code


@dataclass
class Context:
    """What a command needs: parsed args, the workspace and the store, opened on demand."""

    args: argparse.Namespace
    _workspace: Workspace | None = None
    _stores: list[Store] = field(default_factory=list)

    @property
    def fmt(self) -> str:
        return getattr(self.args, "format", None) or "table"

    def now(self) -> datetime:
        """The wall clock, read here (the CLI) and passed down; UTC, naive."""
        override = os.environ.get("ONCALL_NOW")
        if override:
            return datetime.fromisoformat(override.replace("Z", "+00:00")).astimezone(
                timezone.utc).replace(tzinfo=None)
        return datetime.now(timezone.utc).replace(tzinfo=None)

    @property
    def workspace(self) -> Workspace:
        if self._workspace is None:
            self._workspace = load_workspace(find_workspace(self.args.workspace))
        return self._workspace

    def store_path(self) -> str:
        return getattr(self.args, "store", None) or str(self.workspace.store_path)

    def read_store(self) -> Store:
        """Open for reading; if a writer holds it, say who and read a snapshot."""
        store = Store.open_read(self.store_path())
        if store.holder is not None:
            print(f"oncall: {store.holder}; reading a read-only snapshot", file=sys.stderr)
        self._stores.append(store)
        return store

    def write_store(self) -> Store:
        """Open read-write, or exit 2 naming the process that holds the file."""
        try:
            store = Store.open(self.store_path())
        except StoreLocked as locked:
            raise CliError(f"{locked}; stop it first, or run this command in that console")
        self._stores.append(store)
        return store

    def close(self) -> None:
        for store in self._stores:
            store.close()

    def out(self, text: str) -> None:
        print(text)


Handler = Callable[[Context], int]


def add_format(parser: argparse.ArgumentParser, choices: tuple[str, ...] = ("table", "json")) -> None:
    parser.add_argument("--format", choices=choices, default="table", help="output format")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="oncall",
        description="A terminal console for the engineer on call for ML services. "
                    "With no command, opens the console on the workspace.")
    parser.add_argument("-w", "--workspace", help="oncall.yaml or its directory "
                        "(default: $ONCALL_WORKSPACE, then ./oncall.yaml)")
    parser.set_defaults(func=None)
    sub = parser.add_subparsers(title="commands", metavar="COMMAND")
    for info in sorted(pkgutil.iter_modules(commands.__path__), key=lambda m: m.name):
        module = importlib.import_module(f"{commands.__name__}.{info.name}")
        register = getattr(module, "register", None)
        if register is not None:
            register(sub)
    return parser


def fail(message: str, code: int = 2) -> NoReturn:
    print(f"oncall: {message}", file=sys.stderr)
    raise SystemExit(code)


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    handler: Handler | None = args.func
    if handler is None:
        from console.commands.console import run_console

        handler = run_console
    ctx = Context(args)
    try:
        return int(handler(ctx) or 0)
    except CliError as exc:
        fail(str(exc), exc.code)
    except WorkspaceError as exc:
        for problem in exc.problems:
            print(f"oncall: {problem}", file=sys.stderr)
        return 2
    except StoreError as exc:
        fail(str(exc))
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        return 0
    finally:
        ctx.close()


def entry(argv: list[str] | None = None) -> Any:  # pragma: no cover - console script shim
    sys.exit(main(argv))
