#!/usr/bin/env bash
# Creates .venvs/lint with the pinned linters of tests/setup/lint.txt (ruff, mypy, import-linter,
# radon) for tests/lint/. Idempotent: returns at once when the pins are already installed.
set -euo pipefail
cd "$(dirname "$0")/../.."

venv=.venvs/lint
pins=tests/setup/lint.txt
stamp="$venv/.pins"
if [ -x "$venv/bin/python" ] && [ -f "$stamp" ] && cmp -s "$pins" "$stamp"; then
  exit 0
fi

echo "tests/setup/lint.sh: creating $venv"
mkdir -p .venvs
python3 -m venv "$venv"
"$venv/bin/python" -m pip install -q --disable-pip-version-check -r "$pins"
cp "$pins" "$stamp"
