"""The demo's header says where its workspace is, and the command it suggests works there (issue #17)."""

from __future__ import annotations

import shlex
from datetime import datetime

from console.cli.commands.demo import demo_subtitle, prepare
from console.cli.main import main


def test_the_command_the_demo_header_suggests_reaches_its_workspace(tmp_path, monkeypatch, capsys):
    target = tmp_path / "oncall-demo-x"
    prepare(target, now=datetime(2026, 11, 20, 12, 0), days=0.1, seed=7)
    subtitle = demo_subtitle(target)
    assert f"workspace {target}" in subtitle
    suggested = shlex.split(subtitle.rpartition("another terminal: ")[2])
    assert suggested[:3] == ["oncall", "-w", str(target)]
    monkeypatch.chdir(tmp_path)  # not the workspace: the path alone must find it
    monkeypatch.setenv("ONCALL_NOW", "2026-11-20T12:00:00Z")
    try:
        code = main(suggested[1:])
    except SystemExit as exc:
        code = int(exc.code)
    out = capsys.readouterr()
    assert code == 0, out.err
    assert "no workspace" not in out.err + out.out
