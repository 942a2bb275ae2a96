"""The terminal guard itself: what any print, traceback or forwarded answer turns into."""

from __future__ import annotations

import json
import os
import queue
import signal
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from console.core.output import dumps, render
from console.core.terminal import escape, escape_text
from tests.terminal_hostile import HOSTILE, SHOWN, Output, raw_controls, run_cli

EVERY_KIND = {
    "\x1b": "\\x1b",
    "\x07": "\\x07",
    "\x00": "\\x00",
    "\r": "\\r",
    "\x7f": "\\u007f",
    "\x9b": "\\u009b",
    "\x85": "\\u0085",
    "\u202a": "\\u202a",
    "\u202e": "\\u202e",
    "\u2066": "\\u2066",
    "\u2069": "\\u2069",
    "\u2028": "\\u2028",
    "\udcff": "\\udcff",
}


@pytest.mark.parametrize("char,shown", EVERY_KIND.items(), ids=[hex(ord(c)) for c in EVERY_KIND])
def test_each_control_is_a_visible_escape_and_json_keeps_the_value(char, shown):
    assert escape(f"a{char}b") == f"a{shown}b"
    assert escape_text(f"a{char}b\n") == f"a{shown}b\n"
    assert json.loads(dumps({"v": f"a{char}b"})) == {"v": f"a{char}b"}
    assert char not in dumps({"v": char}) and char not in render(["v"], [[char]], "csv")


def test_a_value_keeps_to_one_line_while_output_keeps_its_layout():
    assert escape("a\nb\tc") == "a\\nb\\tc"
    assert escape_text("a\nb\tc") == "a\nb\tc"
    assert escape("déjà vu ✓ 日本") == "déjà vu ✓ 日本"  # printable text untouched


def test_anything_printed_under_the_guard_is_inert(tmp_path):
    """A print that forgot to escape, a write to stderr, a warning and a traceback."""
    script = (
        "import sys, warnings\n"
        "from console.core.terminal import guard_streams\n"
        "guard_streams()\n"
        f"print({HOSTILE!r})\n"
        f"sys.stderr.write({HOSTILE!r} + '\\n')\n"
        f"warnings.warn({HOSTILE!r})\n"
        f"raise ValueError({HOSTILE!r})\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script],
        capture_output=True,
        timeout=60,
        env={**os.environ, "PYTHONPATH": str(Path(__file__).parents[2])},
    )
    output = Output(done.returncode, done.stdout, done.stderr)
    assert raw_controls(output) == []
    assert output.stdout == SHOWN.replace("\\n", "\n") + "\n"  # a print keeps its newlines
    assert f"ValueError: {SHOWN}".replace("\\n", "\n") in output.stderr


class _Demo:
    """`oncall demo --headless`: the owner of the store, answering forwarded commands."""

    def __init__(self, root: Path) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "console", "demo", "--headless", "--days", "0.2", "--dir", str(root)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env={**os.environ, "ONCALL_NOW": "2026-11-20T12:00:00Z"},
        )
        self.lines: queue.Queue[bytes] = queue.Queue()
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        for line in self.proc.stdout:
            self.lines.put(line)

    def first_line(self) -> bytes:
        try:
            return self.lines.get(timeout=120)
        except queue.Empty:
            raise AssertionError(f"the demo said nothing: {self.proc.stderr.read1()!r}") from None

    def stop(self) -> bytes:
        self.proc.send_signal(signal.SIGTERM)
        _, err = self.proc.communicate(timeout=60)
        return err


def test_a_forwarded_commands_answer_is_inert(tmp_path):
    root = tmp_path / "demo"
    demo = _Demo(root)
    try:
        assert b"demo workspace" in demo.first_line()
        declared = run_cli("incident", "declare", "--title", HOSTILE, workspace=root, env={})
        shown = run_cli("incident", "show", "1", workspace=root, env={})
    finally:
        demo_err = demo.stop()
    for result in (declared, shown):
        assert "ran this command there" in result.stderr  # the owner answered
        assert raw_controls(result) == []
    assert declared.stdout.rstrip("\n").endswith(SHOWN)
    assert shown.stdout.splitlines()[0] == f"#1 {SHOWN}"
    assert raw_controls(Output(0, b"", demo_err)) == []
