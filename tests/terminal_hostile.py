"""A workspace whose outside text is hostile to a terminal, and a check that output stays inert.

The scrape source's /metrics page, the log file, the rules' annotations (templated from
labels), an incident title and an SLO group all carry the same hostile text: an OSC that
retitles the window, a clear-screen CSI, a carriage return, a newline, a right-to-left
override and an 8-bit CSI (U+009B).
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from tests.local_http import serve

HOSTILE = "A\x1b]0;pwned\x07B\x1b[2JC\rD\nE\u202eF\x9bG"
# how the CLI shows it: every control character a visible escape
SHOWN = "A\\x1b]0;pwned\\x07B\\x1b[2JC\\rD\\nE\\u202eF\\u009bG"
ENV = {"ONCALL_NOW": "2026-03-01T12:00:00Z"}

# raw bytes a terminal would act on: C0 except the line-ending newline, DEL
_RAW_BYTES = re.compile(rb"[\x00-\x09\x0b-\x1f\x7f]")
# decoded code points a terminal would act on: C1 controls, bidi controls, line separators
_RAW_POINTS = re.compile("[\x80-\x9f\u061c\u200e\u200f\u2028-\u202e\u2066-\u2069]")


def _exposition_value(text: str) -> str:
    """`text` as a label value in the Prometheus text format (which escapes \\, " and newline)."""
    return text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


METRICS = (
    "# TYPE evil_up gauge\n"
    f'evil_up{{msg="{_exposition_value(HOSTILE)}"}} 1\n'
    "# TYPE evil_requests_total counter\n"
    f'evil_requests_total{{msg="{_exposition_value(HOSTILE)}",code="500"}} 5\n'
    f'evil_requests_total{{msg="{_exposition_value(HOSTILE)}",code="200"}} 95\n'
)


def _route(path: str) -> tuple[int, bytes, str]:
    if path == "/metrics":
        return 200, METRICS.encode(), "text/plain; version=0.0.4"
    return 503, f"down: {HOSTILE}".encode(), "text/plain"  # a hostile error page too


def hostile_server() -> contextlib.AbstractContextManager[str]:
    """A local HTTP server: `/metrics` with hostile label values, anything else a hostile 503."""
    return serve(_route)


RULES = """\
groups:
  - name: hostile
    rules:
      - alert: EvilUp
        expr: {series: evil_up, fn: last, over: 5m, by: [msg], op: ">", value: 0}
        labels: {severity: page}
        annotations:
          summary: "the service said {{ $labels.msg }}"
"""

SLOS = """\
slos:
  - name: evil-availability
    objective: 99
    sli:
      ratio:
        bad: evil_requests_total{code="500"}
        total: evil_requests_total
        by: [msg]
"""

PLAYBOOK = """\
id: evil
title: Evil is up
applies_to:
  alerts: [EvilUp]
steps:
  - id: look
    kind: instruction
    title: "Look at {{ labels.msg }}"
    text: "The service said {{ labels.msg }}"
"""


def write_workspace(root: Path, url: str) -> Path:
    """A workspace reading the hostile server and a hostile log file; returns its directory."""
    (root / "rules").mkdir()
    (root / "rules" / "hostile.yaml").write_text(RULES)
    (root / "slos").mkdir()
    (root / "slos" / "hostile.yaml").write_text(SLOS)
    (root / "playbooks").mkdir()
    (root / "playbooks" / "evil.yaml").write_text(PLAYBOOK)
    (root / "logs").mkdir()
    record = {"ts": "2026-03-01T11:59:00Z", "level": "error", "service": "evil", "message": HOSTILE}
    with open(root / "logs" / "app.log", "w", encoding="utf-8") as log:
        log.write(json.dumps(record) + "\n")  # JSON-escaped: decoded on the way in
        log.write(f"not json: {HOSTILE}".replace("\n", " ") + "\n")  # the raw bytes themselves
    (root / "oncall.yaml").write_text(f"""\
allow_actions: true
sources:
  - name: evil
    kind: scrape
    url: {url}/metrics
  - name: broken
    kind: scrape
    url: {url}/down
  - name: applog
    kind: logfile
    path: logs/app.log
rules: [rules/*.yaml]
slos: [slos/*.yaml]
playbooks: [playbooks]
""")
    return root


@dataclass
class Output:
    """What one CLI run wrote, as bytes, and decoded."""

    code: int
    stdout_bytes: bytes
    stderr_bytes: bytes

    @property
    def stdout(self) -> str:
        return self.stdout_bytes.decode("utf-8")

    @property
    def stderr(self) -> str:
        return self.stderr_bytes.decode("utf-8")

    @property
    def both(self) -> str:
        return self.stdout + self.stderr


def run_cli(*args: str, workspace: Path, env: dict[str, str] | None = None) -> Output:
    """`oncall -w WORKSPACE ARGS` in a fresh interpreter; output kept as bytes."""
    done = subprocess.run(
        [sys.executable, "-m", "console", "-w", str(workspace), *args],
        cwd=workspace,
        capture_output=True,
        timeout=120,
        env={**os.environ, **(ENV if env is None else env)},
    )
    return Output(done.returncode, done.stdout, done.stderr)


def raw_controls(output: Output) -> list[str]:
    """Each control byte or code point that reached stdout or stderr raw (none should)."""
    found = []
    for name, data in (("stdout", output.stdout_bytes), ("stderr", output.stderr_bytes)):
        found += [f"{name}: byte {m.group()!r} at {m.start()}" for m in _RAW_BYTES.finditer(data)]
        text = data.decode("utf-8", "replace")
        found += [f"{name}: {m.group()!r} at {m.start()}" for m in _RAW_POINTS.finditer(text)]
    return found
