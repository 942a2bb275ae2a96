"""kill -9 while the rotated copy of a truncated file is being read (glob `app.log`): the
restarted collector reads on from the last committed batch; each line is stored once."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

from tests.rotation import Rotation

COLLECT = textwrap.dedent("""
    import sys, time
    from collectors.logfile import LogfileCollector, LogfileOptions
    from console.store import Store
    from tests.rotation import NOW
    collector = LogfileCollector("app", LogfileOptions(path="logs/app.log", chunk_bytes=4096),
                                 base_dir=sys.argv[1])
    store_batch = collector._store
    def slow_store(*args, **kwargs):
        added = store_batch(*args, **kwargs)
        print("batch", added, flush=True)
        time.sleep(0.05)
        return added
    collector._store = slow_store
    with Store.open(sys.argv[1] + "/store.duckdb") as store:
        collector.collect(store, NOW)
    print("finished", flush=True)
""")


def test_killed_while_reading_a_rotated_copy_reads_on_after_restart(tmp_path: Path) -> None:
    rot = Rotation(tmp_path, "app.log")
    rot.write(100)
    rot.collect()
    rot.write(3000)  # unread when the file is copied and truncated
    shutil.copyfile(rot.log, rot.path(1))
    os.truncate(rot.log, 0)
    rot.write(10)
    repo = Path(__file__).parents[2]
    proc = subprocess.Popen(
        [sys.executable, "-c", COLLECT, str(tmp_path)],
        cwd=repo,
        stdout=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONPATH": str(repo)},
    )
    batches = [proc.stdout.readline() for _ in range(5)]
    assert all(b.startswith("batch") for b in batches), batches
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    assert 0 < len(rot.stored()) < len(rot.written)
    rot.collect()
    rot.collect()
    rot.assert_each_line_once()
    assert rot.notes() == ""
