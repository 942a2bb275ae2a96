#!/usr/bin/env bash
# Creates .venvs/evidently with Evidently 0.7 (it needs pandas < 3) for the drift comparison tests.
# Idempotent: returns at once when the virtualenv already has the right versions installed.
set -euo pipefail
cd "$(dirname "$0")/../.."

venv=.venvs/evidently
if [ -x "$venv/bin/python" ] && "$venv/bin/python" - <<'PY' 2>/dev/null
import sys
from importlib.metadata import version
ok = version("evidently").startswith("0.7.") and int(version("pandas").split(".")[0]) < 3 and version("pyarrow")
sys.exit(0 if ok else 1)
PY
then
  exit 0
fi

echo "tests/setup/evidently.sh: creating $venv"
mkdir -p .venvs
python3 -m venv "$venv"
"$venv/bin/python" -m pip install -q --disable-pip-version-check 'evidently==0.7.*' 'pandas<3' pyarrow
