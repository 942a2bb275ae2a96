"""A real Postgres for integration tests: `initdb` in a temp dir, `pg_ctl` on a free port, stop by PID.

Postgres refuses to run as root, so as root the cluster belongs to `nobody` (`runuser`). TCP
on 127.0.0.1 asks for a password (scram-sha-256); the unix socket in the temp dir trusts the
cluster's superuser, which the fixture uses to make roles and databases. A missing server
fails the test (never a skip): `tests/run` installs Debian's `postgresql`.
"""

from __future__ import annotations

import glob
import os
import pwd
import re
import shutil
import signal
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import psycopg
from psycopg import sql

from tests.servers import free_port

SUPERUSER = "postgres"


def postgres_bindir() -> Path:
    """Debian's server binaries (the newest /usr/lib/postgresql/N/bin), else `pg_config --bindir`."""
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/pg_ctl"), key=_version_key)
    if found:
        return Path(found[-1]).parent
    pg_config = shutil.which("pg_config")
    if pg_config:
        bindir = subprocess.run([pg_config, "--bindir"], capture_output=True, text=True).stdout.strip()
        if bindir and Path(bindir, "pg_ctl").exists() and Path(bindir, "initdb").exists():
            return Path(bindir)
    pg_ctl = shutil.which("pg_ctl")
    if pg_ctl and shutil.which("initdb"):
        return Path(os.path.realpath(pg_ctl)).parent
    raise RuntimeError(
        "the PostgreSQL server (initdb, pg_ctl) is not installed; run the tests through "
        "`bash tests/run`, which installs Debian's postgresql"
    )


def _version_key(path: str) -> tuple[int, ...]:
    match = re.search(r"/postgresql/([0-9.]+)/", path)
    return tuple(int(part) for part in match.group(1).split(".")) if match else (0,)


@dataclass
class Postgres:
    """A running cluster: its port on 127.0.0.1, its temp dir (data, socket, log)."""

    root: Path
    port: int
    bindir: Path
    as_user: str | None  # the account it runs as when we are root
    pid: int | None = None
    _databases: int = field(default=0)

    @property
    def data(self) -> Path:
        return self.root / "data"

    @property
    def log_path(self) -> Path:
        return self.root / "postgres.log"

    def log(self) -> str:
        try:
            return self.log_path.read_text(errors="replace")[-4000:]
        except OSError:
            return ""

    def _run(self, *argv: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
        prefix = ["runuser", "-u", self.as_user, "--"] if self.as_user else []
        return subprocess.run(
            [*prefix, *argv], capture_output=True, text=True, timeout=timeout, cwd=self.root, check=False
        )

    def initdb(self) -> None:
        done = self._run(
            str(self.bindir / "initdb"),
            "-D",
            str(self.data),
            "-U",
            SUPERUSER,
            "-E",
            "UTF8",
            "--locale=C",
            "--auth-local=trust",
            "--auth-host=scram-sha-256",
            "--no-sync",
        )
        if done.returncode != 0:
            raise RuntimeError(f"initdb failed ({done.returncode}): {done.stderr or done.stdout}")

    def start(self) -> None:
        """`pg_ctl start` and wait until it accepts connections; the postmaster's PID is kept."""
        options = f"-p {self.port} -c listen_addresses=127.0.0.1 -k {self.root} -c fsync=off"
        done = self._run(
            str(self.bindir / "pg_ctl"),
            "-D",
            str(self.data),
            "-l",
            str(self.log_path),
            "-o",
            options,
            "-w",
            "-t",
            "60",
            "start",
        )
        if done.returncode != 0:
            raise RuntimeError(f"pg_ctl start failed ({done.returncode}): {done.stderr}\n{self.log()}")
        self.pid = int((self.data / "postmaster.pid").read_text().split("\n", 1)[0])

    def stop(self) -> None:
        """Stop by PID: SIGINT (fast shutdown), SIGQUIT after 20 s, SIGKILL after 10 more."""
        pid, self.pid = self.pid, None
        if pid is None:  # a start that failed half-way may still have left a postmaster
            try:
                pid = int((self.data / "postmaster.pid").read_text().split("\n", 1)[0])
            except (OSError, ValueError):
                return
        for sig, wait in ((signal.SIGINT, 20.0), (signal.SIGQUIT, 10.0), (signal.SIGKILL, 10.0)):
            try:
                os.kill(pid, sig)
            except ProcessLookupError:
                return
            deadline = time.monotonic() + wait
            while time.monotonic() < deadline:
                if not _alive(pid):
                    return
                time.sleep(0.05)

    @contextmanager
    def down(self) -> Iterator[None]:
        """Stopped (by PID) for the block, then started again on the same port and data directory."""
        self.stop()
        try:
            yield
        finally:
            self.start()

    def admin(self) -> psycopg.Connection:
        """The superuser over the unix socket (trusted), autocommit."""
        return psycopg.connect(
            host=str(self.root), port=self.port, user=SUPERUSER, dbname="postgres", autocommit=True
        )

    def database(self, user: str = "oncall", password: str = "s3cret-Pass-9f2") -> str:
        """A fresh database owned by `user` (made with `password` if new): its TCP DSN."""
        self._databases += 1
        name = f"db{self._databases}"
        with self.admin() as con:
            exists = con.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", [user]).fetchone()
            if not exists:
                con.execute(
                    sql.SQL("CREATE ROLE {} LOGIN PASSWORD {}").format(
                        sql.Identifier(user), sql.Literal(password)
                    )
                )
            con.execute(
                sql.SQL("CREATE DATABASE {} OWNER {}").format(sql.Identifier(name), sql.Identifier(user))
            )
        return f"postgresql://{user}:{password}@127.0.0.1:{self.port}/{name}"


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    try:  # our own child (not with pg_ctl, which detaches) would linger as a zombie
        waited, _ = os.waitpid(pid, os.WNOHANG)
        return waited == 0
    except ChildProcessError:
        return True


def start_postgres() -> Postgres:
    """A new cluster in a new temp dir on a free port; as root it runs as `nobody`."""
    bindir = postgres_bindir()
    root = Path(tempfile.mkdtemp(prefix="oncall-pg-"))
    as_user = None
    if os.geteuid() == 0:
        as_user = "nobody"
        account = pwd.getpwnam(as_user)
        os.chown(root, account.pw_uid, account.pw_gid)
    server = Postgres(root=root, port=free_port(), bindir=bindir, as_user=as_user)
    try:
        server.initdb()
        server.start()
    except BaseException:
        server.stop()
        shutil.rmtree(root, ignore_errors=True)
        raise
    return server


def remove(server: Postgres) -> None:
    """Stop the cluster (by PID) and delete its temp dir."""
    try:
        server.stop()
    finally:
        shutil.rmtree(server.root, ignore_errors=True)
