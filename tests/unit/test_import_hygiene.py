"""Headless modules never import Textual or Rich (checked in a fresh interpreter)."""

from __future__ import annotations

import pkgutil
import subprocess
import sys
from pathlib import Path

import collectors
import console

REPO = Path(__file__).resolve().parents[2]
UI_PREFIXES = ("console.tui", "console.cli", "console.__main__")


def headless_modules() -> list[str]:
    names = []
    for package in (console, collectors):
        for info in pkgutil.walk_packages(package.__path__, prefix=package.__name__ + "."):
            if not info.name.startswith(UI_PREFIXES):
                names.append(info.name)
    return sorted(names)


def test_there_are_headless_modules_to_check() -> None:
    modules = headless_modules()
    assert {"console.store", "console.config.workspace", "console.store.importer", "collectors.base"} <= set(
        modules
    )


def test_headless_modules_do_not_import_textual() -> None:
    modules = headless_modules()
    code = (
        "import importlib, sys\n"
        f"for name in {modules!r}:\n"
        "    importlib.import_module(name)\n"
        "    bad = sorted(m for m in ('textual', 'rich') if m in sys.modules)\n"
        "    if bad:\n"
        "        print(name, 'imports', ','.join(bad)); sys.exit(1)\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO)
    assert result.returncode == 0, result.stdout + result.stderr


def test_the_consoles_first_frame_needs_no_data_science_libraries(tmp_path) -> None:
    """Loading the demo workspace (which validates its collectors' options) and reading the
    Overview import neither numpy, pyarrow, pandas nor httpx: they cost ~0.5 s of start-up."""
    from datetime import datetime

    from console.cli.commands.demo import prepare

    prepare(tmp_path / "demo", now=datetime(2026, 11, 20, 12), days=0.1, seed=7)
    code = (
        "import sys\n"
        "from datetime import datetime\n"
        "from console.runtime.session import Session\n"
        "from console.screens.overview import session_overview\n"
        "from console.config.workspace import load_workspace\n"
        f"ws = load_workspace({str(tmp_path / 'demo' / 'oncall.yaml')!r})\n"
        "session = Session(ws, clock=lambda: datetime(2026, 11, 20, 12), run_engine=False,\n"
        "                  listen=False)\n"
        "data = session_overview(session)\n"
        "assert [s.sli is not None for s in data['slos']] == [True, True], data['slos']\n"
        "session.close()\n"
        "heavy = sorted(m for m in ('numpy', 'pyarrow', 'pandas', 'httpx') if m in sys.modules)\n"
        "print(' '.join(heavy))\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == ""
