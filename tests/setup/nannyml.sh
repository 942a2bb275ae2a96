#!/usr/bin/env bash
# Creates .venvs/nannyml with NannyML 0.13.1 for the CBPE comparison tests. NannyML imports
# statsmodels without declaring it, so it is installed beside it; pandas stays below 3.
# Idempotent: returns at once when the virtualenv already has the right versions installed.
set -euo pipefail
cd "$(dirname "$0")/../.."

venv=.venvs/nannyml
if [ -x "$venv/bin/python" ] && "$venv/bin/python" - <<'PY' 2>/dev/null
import sys
from importlib.metadata import version
ok = version("nannyml") == "0.13.1" and int(version("pandas").split(".")[0]) < 3 and version("statsmodels")
import nannyml  # noqa: F401  (fails when an undeclared import is missing)
sys.exit(0 if ok else 1)
PY
then
  exit 0
fi

echo "tests/setup/nannyml.sh: creating $venv"
mkdir -p .venvs
python3 -m venv "$venv"
"$venv/bin/python" -m pip install -q --disable-pip-version-check 'nannyml==0.13.1' statsmodels 'pandas<3' pyarrow
