"""The demo's simulated fraud-scoring service: its history and its live traffic.

The simulator serves whatever version the registry's `champion` alias names.  The history
ends with version 3 serving, healthy.  Seconds after the live run starts (or when
`trigger()` is called) the CI pipeline (`ci-deployer`) registers version 4 and moves
`champion` to it; a minute later version 4 degrades: 5xx and latency rise and the logs fill
with timeouts; a rollback heals it.  Every step's noise comes from (seed, step number), so a
run is deterministic.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from pydantic import Field

from collectors.base import Collector, CollectorOptions, CollectResult
from collectors.demo_names import MODEL
from console.config.durations import parse_duration

if TYPE_CHECKING:
    from console.store import Store

ALIAS = "champion"
DEPLOYED = "4"  # the version the demo's CI deploys live
DEPLOYER = "ci-deployer"


class DemoOptions(CollectorOptions):
    seed: int = 7
    step: str = "15s"
    deploy_after: str = "15s"
    degrade_after: str = "75s"
    registry: str = "local"
    model: str = MODEL
    degrade_version: str | None = None  # default: the version the demo deploys (3 without a deploy)
    history_days: float = Field(default=3, ge=0)
    # With a canary alias (seeded into the store: see `seed_demo`), CI points that alias at the
    # new version instead of `champion`, and it serves `canary_share` of the requests.
    canary_alias: str | None = None
    canary_share: float = Field(default=0.2, gt=0, lt=1)


class DemoCollector(Collector):
    """Live traffic of the simulated service, up to `now`, serving the champion."""

    kind = "demo"
    Options = DemoOptions
    options: DemoOptions

    def __init__(self, name: str, options: CollectorOptions, *, base_dir: str = ".") -> None:
        super().__init__(name, options, base_dir=base_dir)
        self.step_s = int(parse_duration(self.options.step).total_seconds())
        self._trigger_at: datetime | None = None

    def trigger(self, now: datetime) -> None:
        """Make the deploy (if still to come) and the degradation happen now instead of later."""
        self._trigger_at = now

    def champion(self, store: Store) -> str:
        rows = store.query(
            "SELECT version FROM registry_aliases WHERE registry = ? AND model = ? AND alias = ?",
            [self.options.registry, self.options.model, ALIAS],
        )[1]
        return str(rows[0][0]) if rows else "3"

    def collect(self, store: Store, now: datetime) -> CollectResult:
        from collectors.demo_predictions import live_predictions
        from collectors.demo_sim import simulate
        from console.store import ingest_logs, ingest_samples

        cursor = store.get_cursor(self.name)
        if cursor is None:
            raise RuntimeError(f"demo source {self.name!r} has no history; run seed_demo() first")
        degrade_at = self._degrade_at(cursor)
        next_step = cursor["next_step"]
        last_step = self._step_at(now)
        cursor = self._deploy_when_due(store, cursor, now)
        steps = last_step - next_step + 1
        seed = int(cursor.get("seed", self.options.seed))  # the seed the history was made with
        backfill = _backfill_predictions(store, cursor, self.step_s, seed)
        if steps <= 0:
            if backfill is not None:
                with store.transaction() as cur:
                    store.set_cursor(cur, self.name, {**cursor, "backfill": backfill}, 0, now)
            return CollectResult(0)
        step_times = [
            datetime(1970, 1, 1) + timedelta(seconds=(next_step + i) * self.step_s) for i in range(steps)
        ]
        served = self.served(store, cursor, next_step, steps)
        bad_version = self.options.degrade_version or cursor.get("degrade_version") or "3"
        if cursor.get("canary_alias"):
            return self._collect_split(store, cursor, now, step_times, served, bad_version, degrade_at)
        degraded = [version == bad_version and t >= degrade_at for version, t in zip(served, step_times)]
        samples, logs, counters = simulate(
            next_step, steps, self.step_s, seed, served, degraded, cursor["counters"]
        )
        new_cursor = {
            **cursor,
            "next_step": last_step + 1,
            "counters": counters,
            "degrade_at": degrade_at.isoformat(),
            "serving": served[-1],
            "degraded": bool(degraded[-1]),
            "backfill": backfill,
        }
        live_predictions(store, next_step, steps, self.step_s, seed, served, degraded)
        added = ingest_logs(store, logs)
        added += ingest_samples(store, samples, cursor=(self.name, new_cursor), now=now)
        return CollectResult(added, {"serving": served[-1], "degraded": bool(degraded[-1])})

    def _collect_split(
        self,
        store: Store,
        cursor: dict[str, Any],
        now: datetime,
        step_times: list[datetime],
        served: list[str],
        bad_version: str,
        degrade_at: datetime,
    ) -> CollectResult:
        """A canary rollout: the canary alias's version serves its share beside the champion."""
        from collectors.demo_predictions import live_predictions
        from collectors.demo_sim import simulate_split
        from console.store import ingest_logs, ingest_samples

        next_step, steps = cursor["next_step"], len(step_times)
        canary = self.served(store, cursor, next_step, steps, alias=cursor["canary_alias"])
        first_bad = next((i for i, t in enumerate(step_times) if t >= degrade_at), steps)
        counters = cursor.get("version_counters") or {
            str(cursor.get("serving") or served[0]): cursor["counters"]
        }
        seed = int(cursor.get("seed", self.options.seed))
        samples, logs, shown, bad, counters = simulate_split(
            next_step, steps, self.step_s, seed, served, canary, {bad_version: first_bad},
            self.options.canary_share, counters,
        )  # fmt: skip
        live = canary[-1] if canary[-1] not in (None, served[-1]) else None
        detail = {
            "serving": served[-1],
            "degraded": bad_version == served[-1] and steps - 1 >= first_bad,
            "canary": live,
            "canary_degraded": live == bad_version and steps - 1 >= first_bad,
        }
        new_cursor = {
            **cursor,
            "next_step": next_step + steps,
            "version_counters": counters,
            "degrade_at": degrade_at.isoformat(),
            "serving": served[-1],
            "canary_serving": canary[-1],
            "degraded": detail["degraded"],
        }
        live_predictions(store, next_step, steps, self.step_s, seed, shown, bad)
        added = ingest_logs(store, logs)
        added += ingest_samples(store, samples, cursor=(self.name, new_cursor), now=now)
        return CollectResult(added, detail)

    def _degrade_at(self, cursor: dict[str, Any]) -> datetime:
        """When the champion degrades: as seeded, or earlier when the demo's key asked for it."""
        return self._due(cursor["degrade_at"])

    def _due(self, seeded: str) -> datetime:
        at = datetime.fromisoformat(seeded)
        if self._trigger_at is not None and self._trigger_at < at:
            return self._trigger_at
        return at

    def _deploy_when_due(self, store: Store, cursor: dict[str, Any], now: datetime) -> dict[str, Any]:
        """At `deploy_at`, CI registers the new version and moves `champion` to it (once: a
        restarted demo finds the version registered and leaves the alias alone)."""
        if not cursor.get("deploy_at"):
            return cursor
        deploy_at = self._due(cursor["deploy_at"])
        if _naive_utc(now) < deploy_at:
            return cursor
        alias = cursor.get("canary_alias") or ALIAS
        deploy_demo_version(store, self.options.registry, self.options.model, at=deploy_at, alias=alias)
        return {**cursor, "deploy_at": None}

    def _step_at(self, now: datetime) -> int:
        """The number of the simulated step `now` falls in (a naive `now` is UTC)."""
        if now.tzinfo:
            return int(now.timestamp() // self.step_s)
        return int((now - datetime(1970, 1, 1)).total_seconds() // self.step_s)

    def served(
        self, store: Store, cursor: dict[str, Any], first_step: int, steps: int, alias: str = ALIAS
    ) -> list[Any]:
        """The version served at each step: what the alias named at that step's time, so a
        rollback between two collections heals only the steps after it.  An alias moved
        without a recorded move serves its version from the first step, as before.  The
        canary's alias names None before it exists."""
        version: str | None = self.champion(store) if alias == ALIAS else self._held(store, alias)
        first = datetime(1970, 1, 1) + timedelta(seconds=first_step * self.step_s)
        moves = [
            (at, str(to))
            for at, to in store.query(
                "SELECT ts, version FROM changes WHERE kind = 'alias_move' AND model = ? "
                "AND json_extract_string(detail, '$.alias') = ? AND ts >= ? ORDER BY ts",
                [self.options.model, alias, first],
            )[1]
        ]
        if not moves or moves[-1][1] != version:
            return [version] * steps
        before = (cursor.get("serving") or moves[0][1]) if alias == ALIAS else cursor.get("canary_serving")
        return _served([(datetime(1970, 1, 1), before), *moves], first_step, steps, self.step_s)

    def _held(self, store: Store, alias: str) -> str | None:
        rows = store.query(
            "SELECT version FROM registry_aliases WHERE registry = ? AND model = ? AND alias = ?",
            [self.options.registry, self.options.model, alias],
        )[1]
        return str(rows[0][0]) if rows else None


def _naive_utc(now: datetime) -> datetime:
    return now.astimezone(UTC).replace(tzinfo=None) if now.tzinfo else now


def deploy_demo_version(store: Store, registry: str, model: str, *, at: datetime, alias: str = ALIAS) -> bool:
    """CI's deploy: register version 4 (trained the day before) and move `alias` (`champion`, or
    the canary's alias, made if new) to it at `at`, recorded as an alias move by `ci-deployer`.
    False when it was deployed before."""
    from console.registry.history import record_alias_move
    from console.registry.local import LocalOptions, LocalRegistry

    local = LocalRegistry(registry, LocalOptions(), store=store, clock=lambda: at)
    if any(v.version == DEPLOYED for v in local.list_versions(model)):
        return False
    held = store.query(
        "SELECT version FROM registry_aliases WHERE registry = ? AND model = ? AND alias = ?",
        [registry, model, alias],
    )[1]
    before = str(held[0][0]) if held else None
    trained = at - timedelta(minutes=40)
    local.create_version(
        model,
        version=DEPLOYED,
        created_at=trained,
        source=f"models:/{model}/{trained:%Y%m%d%H%M}",
        run_id="demo-run-release",
        metrics={"auc": 0.941},
        tags={"trained_on": f"{trained - timedelta(days=1):%Y-%m-%d}"},
    )
    with store.transaction() as cur:
        cur.execute(
            "INSERT INTO registry_aliases VALUES (?, ?, ?, ?, ?) ON CONFLICT (registry, model, alias) "
            "DO UPDATE SET version = excluded.version, updated_at = excluded.updated_at",
            [registry, model, alias, DEPLOYED, at],
        )
        record_alias_move(
            cur,
            ts=at,
            model=model,
            alias=alias,
            from_version=before,
            to_version=DEPLOYED,
            actor=DEPLOYER,
            source="demo",
            reason="release pipeline: new version passed offline evaluation"
            + (f"; {alias} on part of the traffic" if alias != ALIAS else ""),
        )
    return True


BACKFILL_STEPS = 5760  # older prediction records written per collection (a day of 15 s steps)


def _served(moves: list[tuple[datetime, Any]], first_step: int, steps: int, step_s: int) -> list[Any]:
    """The version the alias named at each step (moves: when it moved, to what; None: no alias)."""
    epoch = datetime(1970, 1, 1)
    served = []
    for i in range(steps):
        t = epoch + timedelta(seconds=(first_step + i) * step_s)
        served.append(next((v for at, v in reversed(moves) if at <= t), "1"))
    return served


def _backfill_predictions(
    store: Store, cursor: dict[str, Any], step_s: int, seed: int
) -> dict[str, Any] | None:
    """Write the next older stretch of the history's prediction records (newest first); return
    what is left to write, or None when the history is complete."""
    from collectors.demo_predictions import seed_predictions

    backfill = cursor.get("backfill")
    if not backfill:
        return None
    first, end = int(backfill["from"]), int(backfill["to"])
    start = max(first, end - BACKFILL_STEPS)
    if start < end:
        moves = [(datetime.fromisoformat(at), version) for at, version in backfill["moves"]]
        seed_predictions(store, start, end - start, step_s, seed, _served(moves, start, end - start, step_s))
    return {**backfill, "to": start} if start > first else None


def seed_demo(
    store: Store,
    *,
    now: datetime,
    name: str = "demo",
    days: float = 3,
    step: str = "15s",
    seed: int = 7,
    degrade_after: str = "75s",
    deploy_after: str | None = "15s",
    predictions_now: timedelta | None = None,
    canary_alias: str | None = None,
) -> dict[str, int]:
    """History up to `now` and the local registry: v1 20 days old, v2 9, v3 1 (champion).

    With `deploy_after`, the live run deploys version 4 that long after `now` (None: it never
    does, and version 3 is the one that degrades).  With `canary_alias`, CI points that alias at
    version 4 instead of `champion`, and the live run serves it on part of the traffic.

    With `predictions_now`, only that much of the prediction records' history is written
    here (what the drift windows read first); the collector writes the older records, a
    stretch per collection, so a console shows its first frame sooner.
    """
    from collectors.demo_predictions import seed_predictions
    from collectors.demo_sim import SERIES, simulate
    from console.registry.history import record_alias_move
    from console.registry.local import seed_demo_registry
    from console.store import ingest_logs, ingest_samples

    seed_demo_registry(store, now=now)
    step_s = int(parse_duration(step).total_seconds())
    epoch = datetime(1970, 1, 1)
    last_step = int((now - epoch).total_seconds() // step_s)
    steps = int(days * 86400 // step_s)
    first_step = last_step - steps + 1
    moves = [(now - timedelta(days=20), "1"), (now - timedelta(days=9), "2"), (now - timedelta(days=1), "3")]
    served = _served(moves, first_step, steps, step_s)
    samples, logs, counters = simulate(
        first_step, steps, step_s, seed, served, [False] * steps, [0.0] * (len(SERIES) - 1)
    )
    recent = steps if predictions_now is None else min(steps, int(predictions_now.total_seconds() // step_s))
    cursor = {
        "next_step": last_step + 1,
        "counters": counters,
        "seed": seed,
        "degrade_at": (now + parse_duration(degrade_after)).isoformat(),
        "degrade_version": "3" if deploy_after is None else DEPLOYED,
        "deploy_at": None if deploy_after is None else (now + parse_duration(deploy_after)).isoformat(),
        "serving": served[-1] if served else "3",
        "canary_alias": canary_alias,
        "degraded": False,
        "backfill": None
        if recent == steps
        else {
            "from": first_step,
            "to": last_step + 1 - recent,
            "moves": [(at.isoformat(), version) for at, version in moves],
        },
    }
    seed_predictions(store, last_step + 1 - recent, recent, step_s, seed, served[steps - recent :])
    added_logs = ingest_logs(store, logs)
    added = ingest_samples(store, samples, cursor=(name, cursor), now=now)
    with store.transaction() as cur:
        previous = None
        for at, version in moves:
            record_alias_move(
                cur,
                ts=at,
                model=MODEL,
                alias=ALIAS,
                from_version=previous,
                to_version=version,
                actor=DEPLOYER,
                source="demo",
            )
            previous = version
    return {"samples": added, "logs": added_logs, "changes": len(moves)}
