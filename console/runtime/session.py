"""A console session: the workspace, its store, the clock, and the engine when we own the store.

The console owns the store when no other process holds it: then it runs the collectors
and the rules itself and listens for forwarded commands.  Otherwise it reads snapshots
of the store and says who holds it.
"""

from __future__ import annotations

import gc
import sys
import threading
from collections.abc import Callable
from concurrent.futures import Future
from datetime import datetime
from typing import TYPE_CHECKING, Any, Protocol

from console.config.workspace import Workspace
from console.store import Store, StoreLocked

if TYPE_CHECKING:
    from console.actions import ActionEnv
    from console.config.workspace import RegistryConfig
    from console.core.identity import Actor, Caller
    from console.incidents.events import Event
    from console.registry.base import Registry
    from console.runtime.control import ControlServer
    from console.runtime.engine import Engine
    from console.runtime.lastgood import Config
    from console.slo.status import SLO
    from console.team.lease import Holder, Lease

Clock = Callable[[], datetime]


class CommandRunner(Protocol):
    """Runs one `oncall` command line on the owner's store and clock (the CLI's `main`)."""

    def __call__(self, argv: list[str], *, store: Store, clock: Clock, caller: Caller) -> int: ...


class Session:
    """Everything a screen may ask for, safe to call from worker threads."""

    def __init__(
        self,
        workspace: Workspace,
        *,
        clock: Clock,
        store: Store | None = None,
        run_engine: bool = True,
        listen: bool = True,
        run_command: CommandRunner | None = None,
        canaries: str = "on",
    ) -> None:
        """`run_command` runs the commands forwarded to this console; without it they are refused.
        `canaries`: on, dry-run (a failed canary's rollback is only planned) or off (not judged)."""
        self.workspace = workspace
        self.canary_mode = canaries
        self._run_command = run_command
        self.clock = clock
        self.holder: StoreLocked | None = None
        self._lock = threading.Lock()
        self._owns_store = store is None
        if store is None:
            try:
                store = Store.open(workspace.store_path)
            except StoreLocked as locked:
                self.holder = locked
                store = Store.open_read(workspace.store_path)
        self.store = store
        # the shared tables in the team's database when `team:` names one (docs/team.md);
        # a `team:` that cannot be used raises here (TeamConfigError): never a silent local record
        self.team: Any = None
        self.live: Any = None  # other consoles' writes, heard (docs/team.md "Live")
        if workspace.config.team is not None:  # psycopg and the credentials code only then
            from console.team.live import start_listener
            from console.team.shared import attach

            self.team = attach(store, workspace.config.team, workspace.root)
            self.live = start_listener(store.shared)
        self.owner = not store.read_only
        self._config: Config | None = None
        self._config_lock = threading.Lock()
        self.engine: Engine | None = None
        self._evaluator_lease: Lease | None = None
        self._ahead: dict[str, Future[Any]] = {}
        self.read_ahead_failures: list[tuple[str, BaseException]] = []
        self.control: ControlServer | None = None
        self.control_problem: str | None = None  # why this console does not listen
        self.runs_engine = self.owner and run_engine
        if self.owner and listen:
            self._listen()

    def _listen(self) -> None:
        """Take forwarded commands; an unsafe socket path leaves the console without it, said."""
        from console.runtime.control import ControlError, ControlServer

        try:
            self.control = ControlServer(self.workspace.store_path, self._run_forwarded).start()
        except ControlError as exc:
            self.control_problem = f"{exc}; commands from other terminals cannot run in this console"

    def _run_forwarded(self, argv: list[str], caller: Caller) -> int:
        """A forwarded command, run on our store and clock as the client's OS account."""
        if self._run_command is None:
            print("oncall: this process runs no forwarded commands; stop it first", file=sys.stderr)
            return 2
        return self._run_command(argv, store=self.store, clock=self.clock, caller=caller)

    @property
    def config(self) -> Config:
        """The configuration in force (`console.runtime.lastgood.Config`): the engine's once it runs,
        else loaded on first use (off the UI's start-up path, by the first read)."""
        if self.engine is not None and self.engine.config is not None:
            return self.engine.config
        with self._config_lock:
            if self._config is None:
                from console.runtime.lastgood import load_config

                self._config = load_config(self.workspace, self.store, self.clock())
            return self._config

    @property
    def slos(self) -> list[SLO]:
        """The SLOs in force (an SLO file that does not load keeps its last good version)."""
        return self.config.slos

    def banner_lines(self) -> list[str]:
        """What the console's banner says: the team database while it is unreachable, each
        config file that does not load and what is in force instead, one line each."""
        lines = self.config.lines(self.workspace.root)
        lines = [self.control_problem, *lines] if self.control_problem else lines
        outage = self.team.outage if self.team is not None else None
        if outage is not None:
            return [outage.line(), *lines]
        deaf = self.live.problem if self.live is not None else None
        if deaf:  # reads work, but other consoles' changes show only at the next refresh
            lines = [f"{deaf}; other consoles' changes show at the next refresh", *lines]
        return lines

    def read_ahead(self, name: str, read: Callable[[Session], Any]) -> None:
        """Start `read(self)` in a thread now, e.g. the first screen's data while the UI loads.

        The store's reads run outside the GIL, so they overlap the UI's imports and start-up.
        """
        future: Future[Any] = Future()

        def run() -> None:
            try:
                future.set_result(read(self))
            except BaseException as exc:  # noqa: BLE001 - handed to whoever takes the result
                future.set_exception(exc)

        self._ahead[name] = future
        threading.Thread(target=run, name=f"read-ahead-{name}", daemon=True).start()

    def read_ahead_result(self, name: str) -> Any:
        """What `read_ahead(name, …)` read (waiting for it), once; None if nothing was started
        or the read failed: the caller reads again, and the failure is kept in
        `read_ahead_failures` for the console to report."""
        future = self._ahead.pop(name, None)
        if future is None:
            return None
        try:
            return future.result()
        except Exception as exc:  # noqa: BLE001 - kept, and reported by whoever shows the session
            self.read_ahead_failures.append((name, exc))
            return None

    @property
    def read_only(self) -> bool:
        """Whether actions are off: the workspace forbids them or another process writes."""
        return not (self.workspace.allow_actions and self.owner)

    @property
    def actor(self) -> Actor:
        """Who acts from this console: its OS account, on behalf of $ONCALL_ACTOR if set, else
        of the workspace's team identity (`team.user`)."""
        from console.core.identity import current_actor

        team = self.workspace.config.team
        return current_actor(team_user=team.user if team is not None else None)

    def tick(self) -> list[Event]:
        """One engine cycle (collect, evaluate) when we own the store; else a fresh snapshot.

        The engine (collectors, rules) is built on the first tick, off the UI's start-up path.
        """
        with self._lock:
            if self.runs_engine:
                if self.engine is None:
                    from console.runtime.engine import Engine

                    self.engine = Engine(
                        self.workspace, self.store, config=self.config, canaries=self.canary_mode
                    )
                    self.engine.lease = self._lease()
                    events = self.engine.tick(self.clock()).events
                    freeze_startup_objects()
                    return events
                events = self.engine.tick(self.clock()).events
                self.workspace = self.engine.workspace  # loaded again when its files changed
                return events
            if self.holder is not None:
                fresh = Store.open_read(self.workspace.store_path)
                old, self.store = self.store, fresh
                if self.team is not None:
                    fresh.shared, self.team.store = self.team, fresh
                old.close()
            if self.team is not None:  # who evaluates, for the status line
                self._read_evaluator()
            return self._reload_if_changed()

    def _lease(self) -> Lease | None:
        """With `team:`, the evaluator lease this console competes for (docs/team.md)."""
        if self.team is None:
            return None
        from console.team.lease import Lease, holder_name

        if self._evaluator_lease is None:
            user = self.workspace.config.team.user if self.workspace.config.team else None
            self._evaluator_lease = Lease(self.team, holder=holder_name(self.workspace.store_path, user))
        return self._evaluator_lease

    def _read_evaluator(self) -> None:
        from console.team.backend import TeamError

        lease = self._lease()
        assert lease is not None
        try:
            lease.last = lease.holder_info()
        except TeamError:  # the outage banner says the database is unreachable
            lease.last = None

    @property
    def evaluator(self) -> Holder | None:
        """Who evaluates for the team (as of the last tick); None without `team:` or not known yet."""
        lease = self._evaluator_lease
        return lease.last if lease is not None else None

    def _reload_if_changed(self) -> list[Event]:
        """A console that does not run the engine still loads changed files again."""
        from console.runtime.engine import Event
        from console.runtime.lastgood import config_changed, load_config, reload_workspace

        if self._config is None or not config_changed(self._config):
            return []
        self.workspace = reload_workspace(self.workspace, self.store)
        with self._config_lock:
            self._config = load_config(self.workspace, self.store, self.clock())
        return [Event(self.clock(), "config", "configuration reloaded")]

    def canary_failures(self) -> dict[str, Any]:
        """Canary name -> its continuous judgement's last failure (when, message), while it fails."""
        engine = self.engine
        return dict(engine.canaries.failures) if engine is not None else {}

    def canary_skipped(self) -> dict[str, str]:
        """Canary name -> why its last turn judged nothing (e.g. its alias does not exist yet)."""
        engine = self.engine
        return dict(engine.canaries.skipped) if engine is not None else {}

    def trigger_degradation(self) -> bool:
        """The demo's key: CI deploys v4 now (if still to come), and it degrades; False without a demo."""
        if self.runs_engine and self.engine is None:
            self.tick()
        for collector in getattr(self.engine, "collectors", []):
            if getattr(collector, "kind", "") == "demo":
                collector.trigger(self.clock())
                return True
        return False

    def registry(self, name: str | None = None) -> tuple[RegistryConfig, Registry]:
        """(config, adapter) of the named or first registry."""
        from console.registry import open_registry, pick_registry

        config = pick_registry(self.workspace, name)
        return config, open_registry(config, store=self.store, clock=self.clock, workspace=self.workspace)

    def action_env(self, registry_name: str | None = None) -> ActionEnv:
        from console.actions import ActionEnv

        config, registry = self.registry(registry_name)
        rows = self.store.shared.query(
            "SELECT id FROM incidents WHERE status NOT IN ('resolved', 'closed') "
            "ORDER BY created_at DESC LIMIT 1"
        )[1]
        return ActionEnv(
            store=self.store,
            registry=registry,
            actor=self.actor,
            clock=self.clock,
            allow_actions=self.workspace.allow_actions and self.owner,
            protected_models=list(config.protected_models),
            incident_id=int(rows[0][0]) if rows else None,
            workspace_path=str(self.workspace.path),
        )

    def close(self) -> None:
        for future in self._ahead.values():  # a read still running must not lose its store
            future.exception()
        if self.control is not None:
            self.control.stop()
        try:
            self._release_lease()
            self.store.close()
        finally:
            if self.team is not None:
                self.team.close()
            if self.live is not None:
                self.live.stop()  # no thread left behind

    def _release_lease(self) -> None:
        """A console that closes hands the evaluation over at once (not after the lease expires)."""
        if self._evaluator_lease is None:
            return
        from contextlib import suppress

        from console.team.backend import TeamError

        with suppress(TeamError):  # unreachable: the lease expires on its own
            self._evaluator_lease.release()


def freeze_startup_objects() -> None:
    """Exempt everything alive now (modules, classes, the engine) from garbage collection.

    A full collection walks every object; with pandas, pyarrow and Textual loaded that takes
    50-100 ms, and a collection in a worker thread holds the GIL, so the console's event
    loop would stall that long.  What is created later is collected as usual.
    """
    gc.collect()
    gc.freeze()
    gc.enable()  # `oncall console` starts with collection off
