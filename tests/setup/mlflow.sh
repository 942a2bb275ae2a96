#!/usr/bin/env bash
# The MLflow tracking server for tests/integration/registry, in its own virtualenv
# (.venvs/mlflow): MLflow pins pyarrow below the project's.  Quick when already there.
set -euo pipefail
cd "$(dirname "$0")/../.."
if [ -x .venvs/mlflow/bin/mlflow ] && compgen -G ".venvs/mlflow/lib/python*/site-packages/mlflow/server/__init__.py" >/dev/null; then
  exit 0
fi
mkdir -p .venvs
[ -x .venvs/mlflow/bin/python ] || python3 -m venv .venvs/mlflow
.venvs/mlflow/bin/python -m pip install -q --disable-pip-version-check mlflow
