"""The registry, actions and the registry collector are headless: they never import Textual."""

from __future__ import annotations

import subprocess
import sys

HEADLESS = [
    "console.registry",
    "console.registry.local",
    "console.registry.mlflow",
    "console.registry.history",
    "console.registry.watch",
    "console.actions",
    "collectors.registry",
]


def test_headless_modules_do_not_import_textual_or_rich():
    code = (
        "import sys\n"
        f"for name in {HEADLESS!r}:\n"
        "    __import__(name)\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] in ('textual', 'rich')))\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"
