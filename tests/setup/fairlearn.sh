#!/usr/bin/env bash
# Creates .venvs/fairlearn with Fairlearn, scikit-learn and pandas for the segment comparison tests
# (tests/integration/drift/test_segments_vs_fairlearn.py). Idempotent: returns at once when the
# virtualenv already has the pinned versions installed.
set -euo pipefail
cd "$(dirname "$0")/../.."

venv=.venvs/fairlearn
pins=(fairlearn==0.15.0 scikit-learn==1.9.1 pandas==3.1.1 pyarrow)
if [ -x "$venv/bin/python" ] && "$venv/bin/python" - <<'PY' 2>/dev/null
import sys
from importlib.metadata import version
ok = version("fairlearn") == "0.15.0" and version("scikit-learn") == "1.9.1" and version("pandas") == "3.1.1"
ok = ok and bool(version("pyarrow"))
sys.exit(0 if ok else 1)
PY
then
  exit 0
fi

echo "tests/setup/fairlearn.sh: creating $venv"
mkdir -p .venvs
python3 -m venv "$venv"
"$venv/bin/python" -m pip install -q --disable-pip-version-check "${pins[@]}"
