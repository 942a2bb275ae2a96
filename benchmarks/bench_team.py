"""Live across consoles: N sessions on one team Postgres; latency from a write's commit to the
row being visible in each other session, next to baselines measured in the same run.

Each session is its own process (multiprocessing, spawn), each on its own store (DuckDB file)
and workspace whose `team:` names one database, as consoles on the team's machines are: a
console is one process, so threads in one interpreter would add GIL hand-offs between 20
writers, 20 listeners and 20 readers that no real console has, and share psycopg's and
DuckDB's state in a way real consoles do not.

Each session writes timeline notes on the team's incident and acks (every 10th turn it declares
an incident, the next turn it acks it), paced at `--rate` writes per second (jittered; 0: as
fast as it can), for `--seconds`.  Each session also watches, as the console does: its
listener's callback wakes one reader thread (one read in flight; changes heard during a read
make one more), which reads the timeline rows new since its last read and notes when each of
the *other* sessions' notes and acks became visible.  Latency = visible (that read returned)
minus commit (the writer's transaction committed); CLOCK_MONOTONIC is one clock for every
process on the machine.  A write some session never saw is counted and printed.

Baselines, same run: (1) the same sessions and writes, the reader polling every 1 s instead of
listening (`--baseline-seconds`); (2) a bare NOTIFY round trip: one connection notifies,
another listens, no session and no read.  Target: p99 <= 2 s.

Postgres is started like the tests start it (tests/postgres.py: initdb in a temp dir, pg_ctl on
a free port on 127.0.0.1) and stopped by PID at the end.

    .venv/bin/python benchmarks/bench_team.py [--sessions 20] [--seconds 60] [--rate 2]
                                              [--baseline-seconds 20]
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import os
import random
import statistics
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

TARGET_P99 = 2.0
DRAIN = 4.0  # seconds the readers keep reading after the last write
ACK_EVERY = 10
GAP_WAIT = 30.0  # seconds an id missing below the highest seen is looked for


def utcnow() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


class TimedShared:
    """The session's shared tables, noting when each writing transaction committed."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner
        self.committed = 0.0

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)

    @contextmanager
    def transaction(self) -> Iterator[Any]:
        with self.inner.transaction() as cur:
            yield cur
        self.committed = time.monotonic()


def workspace(root: Path, dsn: str) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    dsn_file = root / "team.dsn"
    dsn_file.write_text(dsn + "\n")
    os.chmod(dsn_file, 0o600)
    (root / "oncall.yaml").write_text("store: oncall.duckdb\nteam: {dsn_file: team.dsn}\n")
    return root / "oncall.yaml"


def key_of(kind: str, text: str, incident_id: int) -> str | None:
    """Which timed write a timeline row is: a note's tag, or an incident's ack."""
    if kind == "note" and text.startswith("bench "):
        return text.split(" ", 1)[1]
    if kind == "status" and text.endswith("→ acknowledged"):
        return f"ack-{incident_id}"
    return None


def run_session(index: int, root: str, dsn: str, mode: str, team_incident: int, args: dict[str, Any]) -> None:
    """One console: write for `seconds` and watch the others' writes; results to a JSON file."""
    from console.config.workspace import load_workspace
    from console.incidents.lifecycle import acknowledge, add_note, declare
    from console.runtime.session import Session

    me = f"s{index}"
    session = Session(
        load_workspace(workspace(Path(root, me), dsn)), clock=utcnow, run_engine=False, listen=False
    )
    shared = TimedShared(session.store.shared)
    session.store.shared = shared
    assert session.live is not None and session.live.wait_listening(30), session.live
    writes: dict[str, float] = {}
    seen: dict[str, float] = {}
    stop, wake = threading.Event(), threading.Event()
    if mode == "listen":
        session.live.subscribe(lambda tables: wake.set())

    # where this session starts reading: before any session writes (they wait for all to be ready)
    start_id = shared.inner.query("SELECT coalesce(max(id), 0) FROM timeline")[1][0][0]

    def watch() -> None:
        # ids are drawn before commit, so a lower id may commit after a higher one was read: the
        # ids missing below the highest seen are read again until they come (or GAP_WAIT passes:
        # a transaction that rolled back leaves its id unused)
        highest = start_id
        gaps: dict[int, float] = {}
        while not stop.is_set():
            if mode == "listen":
                wake.wait(0.5)
                wake.clear()  # a change heard during the read below makes one more read
            else:
                stop.wait(1.0)
            now = time.monotonic()
            gaps = {i: t for i, t in gaps.items() if now - t < GAP_WAIT}
            rows = shared.inner.query(
                "SELECT id, kind, actor, text, incident_id FROM timeline WHERE id > ?",
                [min(gaps, default=highest + 1) - 1],
            )[1]
            now = time.monotonic()
            for row_id, kind, actor, text, incident_id in rows:
                if row_id > highest:
                    gaps.update(dict.fromkeys(range(highest + 1, row_id), now))
                    highest = row_id
                elif row_id in gaps:
                    del gaps[row_id]
                else:
                    continue  # read before
                key = key_of(kind, text, incident_id)
                if key is not None and actor != me:
                    seen.setdefault(key, now)

    reader = threading.Thread(target=watch, name="bench-reader", daemon=True)
    reader.start()
    args["ready"].wait()
    rng = random.Random(index)
    started = time.monotonic()
    end = started + args["seconds"]
    rate = args["rate"]
    pending_ack: int | None = None
    turn = 0
    writes_total = 0
    while time.monotonic() < end:
        if rate:
            due = started + (turn + rng.random()) / rate
            if due > time.monotonic():
                time.sleep(due - time.monotonic())
        turn += 1
        if pending_ack is not None:
            acknowledge(session.store, pending_ack, now=utcnow(), actor=me)
            writes[f"ack-{pending_ack}"] = shared.committed
            pending_ack = None
        elif turn % ACK_EVERY == 0:
            pending_ack = declare(session.store, f"bench {me} {turn}", now=utcnow(), actor=me).id
        else:
            tag = f"{mode}-{me}-{turn}"
            add_note(session.store, team_incident, f"bench {tag}", now=utcnow(), actor=me)
            writes[tag] = shared.committed
        writes_total += 1
    elapsed = time.monotonic() - started
    time.sleep(DRAIN)
    stop.set()
    wake.set()
    reader.join(10)
    session.close()
    Path(root, f"{me}.json").write_text(
        json.dumps({"writes": writes, "seen": seen, "writes_total": writes_total, "elapsed": elapsed})
    )


def run_phase(mode: str, dsn: str, team_incident: int, sessions: int, seconds: float, rate: float) -> dict:
    """All sessions in `mode` ("listen" or "poll"): latencies (s), misses and write rates."""
    ctx = mp.get_context("spawn")
    ready = ctx.Barrier(sessions)
    with tempfile.TemporaryDirectory(prefix=f"oncall-bench-{mode}-") as root:
        procs = [
            ctx.Process(
                target=run_session,
                args=(i, root, dsn, mode, team_incident, {"seconds": seconds, "rate": rate, "ready": ready}),
            )
            for i in range(sessions)
        ]
        for p in procs:
            p.start()
        for p in procs:
            p.join(seconds + 180)
        failed = [p.exitcode for p in procs if p.exitcode != 0]
        if failed:
            raise SystemExit(f"bench_team: {len(failed)} session(s) failed (exit codes {failed})")
        results = [json.loads(Path(root, f"s{i}.json").read_text()) for i in range(sessions)]
    latencies: list[float] = []
    missed = 0
    for observer, result in enumerate(results):
        for writer, other in enumerate(results):
            if writer == observer:
                continue
            for key, committed in other["writes"].items():
                visible = result["seen"].get(key)
                if visible is None:
                    missed += 1
                else:
                    latencies.append(visible - committed)
    timed = sum(len(r["writes"]) for r in results)
    elapsed = max(r["elapsed"] for r in results)
    return {
        "latencies": latencies,
        "missed": missed,
        "timed": timed,
        "write_rate": sum(r["writes_total"] for r in results) / elapsed,
    }


def bare_notify(dsn: str, rounds: int = 300) -> list[float]:
    """One connection notifies, another (listening) receives: the floor under any live update."""
    import psycopg

    times: list[float] = []
    with psycopg.connect(dsn, autocommit=True) as listener, psycopg.connect(dsn, autocommit=True) as sender:
        listener.execute("LISTEN bench")
        for i in range(rounds):
            started = time.monotonic()
            sender.execute("SELECT pg_notify('bench', %s)", [str(i)])
            got = list(listener.notifies(timeout=5, stop_after=1))
            assert got and got[0].payload == str(i), got
            times.append(time.monotonic() - started)
    return times


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q / 100 * len(ordered)))]


def show(name: str, phase: dict) -> None:
    lat = phase["latencies"]
    print(
        f"{name}: {len(lat)} (write, other session) pairs from {phase['timed']} notes and acks, "
        f"{phase['write_rate']:.1f} writes/s in all; commit -> visible p50 {pct(lat, 50) * 1000:.0f} ms, "
        f"p99 {pct(lat, 99) * 1000:.0f} ms, max {max(lat) * 1000:.0f} ms; never seen: {phase['missed']}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sessions", type=int, default=20)
    parser.add_argument("--seconds", type=float, default=60)
    parser.add_argument("--rate", type=float, default=2.0, help="writes per second per session (0: no pause)")
    parser.add_argument("--baseline-seconds", type=float, default=20)
    args = parser.parse_args()

    from pydantic import SecretStr

    from console.config.team import TeamConfig
    from console.incidents.lifecycle import declare
    from console.store import Store
    from console.team.backend import TeamBackend
    from console.team.shared import attach
    from tests.postgres import remove, start_postgres

    server = start_postgres()
    try:
        dsn = server.database()
        config = TeamConfig(postgres=SecretStr(dsn))
        TeamBackend.from_config(config, ".").migrate(utcnow())
        with tempfile.TemporaryDirectory() as tmp, Store.open(Path(tmp, "main.duckdb")) as store:
            attach(store, config, tmp)
            team_incident = declare(store, "the team's incident", now=utcnow(), actor="bench").id
            store.shared.close()
        bare = bare_notify(dsn)
        live = run_phase("listen", dsn, team_incident, args.sessions, args.seconds, args.rate)
        poll = run_phase("poll", dsn, team_incident, args.sessions, args.baseline_seconds, args.rate)
    finally:
        remove(server)

    print(
        f"{args.sessions} sessions (processes), {args.rate:g} writes/s each, "
        f"{args.seconds:g} s live, {args.baseline_seconds:g} s polling"
    )
    show("live (LISTEN/NOTIFY, then a read)", live)
    show("baseline: polling every 1 s", poll)
    print(
        f"baseline: bare NOTIFY round trip p50 {statistics.median(bare) * 1000:.2f} ms, "
        f"p99 {pct(bare, 99) * 1000:.2f} ms"
    )
    p99 = pct(live["latencies"], 99)
    print(
        f"live p99 {p99 * 1000:.0f} ms; target <= {TARGET_P99:g} s: {'met' if p99 <= TARGET_P99 else 'NOT met'}; "
        f"polling's p99 / live's {pct(poll['latencies'], 99) / p99:.1f}x, "
        f"live p50 / bare NOTIFY p50 {pct(live['latencies'], 50) / statistics.median(bare):.1f}x"
    )
    if live["missed"] or poll["missed"]:
        print(f"NOT all writes seen: {live['missed']} live, {poll['missed']} polling")


if __name__ == "__main__":
    main()
