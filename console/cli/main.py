"""`oncall`: the console by default, and the commands around it."""

from __future__ import annotations

import argparse
import importlib
import pkgutil
import sys
from collections.abc import Callable
from datetime import datetime
from typing import TYPE_CHECKING, NoReturn

from console.cli import commands
from console.cli.context import CliError, Context, Forward, Handler, fail
from console.config.workspace import WorkspaceError
from console.core.secrets import redact
from console.core.terminal import escape, guard_streams
from console.store import Store, StoreError, StoreLocked

if TYPE_CHECKING:
    from console.core.identity import Caller


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


def main(
    argv: list[str] | None = None,
    *,
    store: Store | None = None,
    clock: Callable[[], datetime] | None = None,
    caller: Caller | None = None,
) -> int:
    """Run one command; `store`, `clock` and `caller` (who sent it) are set when the store's
    owner runs a forwarded command."""
    argv = list(sys.argv[1:] if argv is None else argv)
    parser = build_parser()
    args = parser.parse_args(argv)
    handler = _handler(args)
    ctx = Context(args, shared_store=store, clock=clock, caller=caller, run_command=main)
    try:
        return int(handler(ctx) or 0)
    except Forward as held:
        return _forward(ctx, argv, held.locked)
    except CliError as exc:
        fail(str(exc), exc.code)
    except WorkspaceError as exc:
        return _workspace_failed(exc)
    except StoreError as exc:
        fail(str(exc))
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        return 0
    except Exception as exc:
        if _team_failure(exc):  # the team database failed, or `team:` cannot be used: one line
            fail(str(exc), 1)
        raise
    finally:
        ctx.close()


def _team_failure(exc: Exception) -> bool:
    """A TeamError or TeamConfigError; their modules are imported only once a team is set (so
    one of them was raised only if its module is loaded)."""
    backend, dsn = sys.modules.get("console.team.backend"), sys.modules.get("console.team.dsn")
    return (backend is not None and isinstance(exc, backend.TeamError)) or (
        dsn is not None and isinstance(exc, dsn.TeamConfigError)
    )


def _handler(args: argparse.Namespace) -> Handler:
    """The command's handler; with no command, the console."""
    if args.func is not None:
        return args.func
    from console.cli.commands.console import run_console

    return run_console


def _workspace_failed(exc: WorkspaceError) -> int:
    for problem in exc.problems:
        print(f"oncall: {escape(redact(str(problem)))}", file=sys.stderr)
    return 2


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
    from console.runtime.control import ControlError, ControlTimeout, forward

    ctx.close()
    target = ["-w", str(ctx.workspace.path)] if ctx.workspace_loaded else []
    try:
        answer = forward(locked.path, target + _strip_workspace(argv))
    except ControlTimeout as exc:
        fail(f"{locked}; {exc}")
    except ControlError as exc:
        fail(f"{locked}; not forwarding: {exc}")
    if answer is None:
        fail(f"{locked}; stop it first, or run this command in that console")
    print(f"oncall: {locked}; ran this command there", file=sys.stderr)
    sys.stdout.write(str(answer.get("stdout", "")))
    sys.stderr.write(str(answer.get("stderr", "")))
    code = answer.get("code", 1)
    return code if isinstance(code, int) else 1


def entry(argv: list[str] | None = None) -> NoReturn:  # pragma: no cover - console script shim
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
