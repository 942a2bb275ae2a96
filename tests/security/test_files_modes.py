"""Everything oncall creates is its user's alone: files and sockets 0600, directories 0700,
whatever the umask it was started with; older files found wider are made private with a
note, and a store directory others can write is warned about (issue 14, point 2)."""

from __future__ import annotations

import grp
import json
import os
import pwd
import stat
import sys
from datetime import datetime
from pathlib import Path

import pytest

from console.config.workspace import load_workspace
from console.core import private
from console.store import Store
from console.tui.worker_log import WorkerLog
from tests.process import Oncall, created, too_open, wait_until

NOGROUP = 65534  # nogroup: not a group of the user's own
LOG_LINE = {"ts": "2026-11-20T11:59:00Z", "level": "error", "service": "api", "message": "boom"}
SLOTH = """\
version: "prometheus/v1"
service: "api"
slos:
  - name: "availability"
    objective: 99.9
    sli:
      events:
        error_query: sum(rate(http_requests_total{code=~"5.."}[{{.window}}]))
        total_query: sum(rate(http_requests_total[{{.window}}]))
"""


def mode(path: Path) -> int:
    return stat.S_IMODE(os.lstat(path).st_mode)


def names(found: dict[Path, int]) -> set[str]:
    return {p.name for p in found}


def logfile_workspace(work: Path) -> None:
    (work / "oncall.yaml").write_text(
        "store: s.duckdb\nsources:\n  - {name: app, kind: logfile, path: app.log}\n"
    )
    (work / "app.log").write_text(json.dumps(LOG_LINE) + "\n")
    (work / "sloth.yaml").write_text(SLOTH)


def test_the_demo_its_socket_and_a_forwarded_command_create_only_private_files(sandbox):
    demo = Oncall("demo", "--headless", "--days", "0.2", env=sandbox.env(), cwd=sandbox.work)
    try:
        demo.wait_for("demo workspace")
        (root,) = sandbox.demo_dirs()
        declared = sandbox.oncall("-w", str(root), "incident", "declare", "--title", "files")
        assert "ran this command there" in declared.stderr, declared.stderr
        found = created(sandbox.places())
        wrong = too_open(sandbox.places())
    finally:
        demo.stop()
    assert wrong == []
    assert {
        "oncall.yaml",
        "fraud-scoring.yaml",
        "slos",
        "oncall.duckdb",
        "oncall.journal",
        "workspace.json",
        ".oncall",
    } <= names(found)
    assert any(stat.S_ISSOCK(m) for m in found.values())  # the control socket


def test_collect_and_an_export_create_only_private_files(sandbox):
    logfile_workspace(sandbox.work)
    before = set(created(sandbox.places()))
    collected = sandbox.oncall("collect", "--once")
    assert collected.returncode == 0, collected.stdout + collected.stderr
    exported = sandbox.oncall("slo", "import", "sloth.yaml", "--output", "slos/api.yaml")
    assert exported.returncode == 0, exported.stderr
    found = created(sandbox.places(), before)
    assert too_open(sandbox.places(), before) == []
    assert {"s.duckdb", "s.journal", "slos", "api.yaml"} <= names(found)


def test_a_console_owning_the_store_and_one_reading_snapshots_create_only_private_files(sandbox):
    """The second console finds no socket (another runtime dir): it reads snapshots, and a
    command from a third terminal does too; nothing of theirs is readable by others."""
    logfile_workspace(sandbox.work)
    before = set(created(sandbox.places()))
    elsewhere = sandbox.root / "run2"
    elsewhere.mkdir(mode=0o700)
    owner = Oncall("console", env=sandbox.env(), cwd=sandbox.work, terminal=True)
    reader = None
    try:
        wait_until(sandbox.sockets, 120, "the console's control socket", owner)
        reader = Oncall(
            "console", env=sandbox.env(XDG_RUNTIME_DIR=str(elsewhere)), cwd=sandbox.work, terminal=True
        )
        wait_until(sandbox.snapshots, 120, "the second console's snapshot", reader)
        status = sandbox.oncall("collect", "--status", XDG_RUNTIME_DIR=str(elsewhere))
        assert "reading a read-only snapshot" in status.stderr, status.stderr
        found = created(sandbox.places(), before)
        wrong = too_open(sandbox.places(), before)
    finally:
        owner.stop()
        if reader is not None:
            reader.stop()
    assert wrong == []
    snapshot_files = [p for p in found if p.parent.name.startswith("oncall-snapshot-")]
    assert snapshot_files and {"s.duckdb", ".oncall", "workspace.json"} <= names(found)
    assert any(stat.S_ISSOCK(m) for m in found.values())


def test_an_older_store_readable_by_others_is_made_private_with_one_note(sandbox):
    logfile_workspace(sandbox.work)
    assert sandbox.oncall("collect", "--once").returncode == 0
    for name in ("s.duckdb", "s.journal"):
        os.chmod(sandbox.work / name, 0o644)  # as an older oncall left them
    status = sandbox.oncall("collect", "--status")
    assert status.returncode == 0, status.stderr
    lines = status.stderr.splitlines()
    assert len(lines) == 1, status.stderr
    assert lines[0].startswith("oncall: note: made store files private (0600)")
    assert "s.duckdb (was 0644)" in lines[0] and "s.journal (was 0644)" in lines[0]
    assert mode(sandbox.work / "s.duckdb") == mode(sandbox.work / "s.journal") == 0o600
    assert sandbox.oncall("collect", "--status").stderr == ""  # said once: it is fixed


@pytest.mark.parametrize(
    "dir_mode,group,who",
    [(0o770, NOGROUP, "group"), (0o1777, 0, "others"), (0o777, NOGROUP, "group and others")],
)
def test_a_store_directory_others_can_write_is_warned_about(sandbox, dir_mode, group, who):
    logfile_workspace(sandbox.work)
    os.chown(sandbox.work, -1, group)
    os.chmod(sandbox.work, dir_mode)
    collected = sandbox.oncall("collect", "--once")
    assert collected.returncode == 0, collected.stderr
    warnings = [line for line in collected.stderr.splitlines() if "warning" in line]
    assert warnings == [
        f"oncall: warning: the directory {sandbox.work} of the store is "
        f"writable by {who} (mode {dir_mode:04o}): another user can replace "
        "or remove its files; keep it in a directory only you can write"
    ]


def test_group_write_in_the_users_own_group_is_no_warning(sandbox):
    """umask 002 with a group of one's own (Debian's user private groups): no one else."""
    logfile_workspace(sandbox.work)
    os.chown(sandbox.work, -1, pwd.getpwuid(os.getuid()).pw_gid)
    os.chmod(sandbox.work, 0o775)
    own = grp.getgrgid(pwd.getpwuid(os.getuid()).pw_gid)
    collected = sandbox.oncall("collect", "--once")
    assert collected.returncode == 0, collected.stderr
    if own.gr_name == pwd.getpwuid(os.getuid()).pw_name and not set(own.gr_mem) - {own.gr_name}:
        assert "warning" not in collected.stderr
    else:
        assert "writable by group" in collected.stderr


def test_an_older_console_log_readable_by_others_is_made_private(tmp_path, capsys):
    (tmp_path / "oncall.yaml").write_text("store: s.duckdb\n")
    workspace = load_workspace(tmp_path / "oncall.yaml")
    log = tmp_path / ".oncall" / "console.log"
    log.parent.mkdir(mode=0o700)
    log.write_text("an older line\n")
    os.chmod(log, 0o644)
    worker_log = WorkerLog(workspace)
    try:
        worker_log.note("hello")
    finally:
        worker_log.close()
    assert mode(log) == 0o600
    assert "console.log (was 0644)" in capsys.readouterr().err


def test_a_snapshot_is_private_even_for_a_caller_with_a_wide_umask(tmp_path):
    """The store layer itself: a library caller with umask 000 still gets 0600 copies."""
    from tests.sock import hold_store

    with Store.open(tmp_path / "s.duckdb"):
        pass
    holder = hold_store(tmp_path / "s.duckdb")
    old = os.umask(0)
    try:
        snapshot = Store.open_read(tmp_path / "s.duckdb")
        try:
            copy_dir = snapshot.path.parent
            assert mode(copy_dir) == 0o700
            assert [mode(p) for p in copy_dir.iterdir()] and all(mode(p) == 0o600 for p in copy_dir.iterdir())
        finally:
            snapshot.close()
        assert not copy_dir.exists()
    finally:
        os.umask(old)
        holder.kill()
        holder.wait()


def test_playbook_commands_run_with_the_users_umask_not_oncalls(tmp_path, monkeypatch):
    """oncall's 077 is for its own files: a command step creates files as the user would."""
    from console.playbooks.context import RunContext
    from console.playbooks.loading import load_playbook
    from console.playbooks.runs import start_run

    made = tmp_path / "made-by-the-command"
    script = tmp_path / "touch.py"
    script.write_text("import sys\nopen(sys.argv[1], 'w').close()\n")
    book = tmp_path / "touch.yaml"
    book.write_text(
        "id: touch\ntitle: touch a file\nsteps:\n  - id: run\n    kind: command\n"
        f"    argv: {json.dumps([sys.executable, str(script), str(made)])}\n"
    )
    old = os.umask(0o022)
    monkeypatch.setattr(private, "_user_umask", None)
    private.restrict_umask()  # as the CLI does first
    try:
        with Store.open(tmp_path / "s.duckdb") as store:
            ctx = RunContext(store=store, actor="alice", clock=lambda: datetime(2026, 11, 20, 12))
            start_run(ctx, load_playbook(book), alert={"name": "X", "labels": {}}).advance(confirm=True)
    finally:
        os.umask(old)
    assert mode(made) == 0o644
