"""A real MLflow tracking server (SQLite backend) and a model with three versions made over REST."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from tests.servers import Server, free_port, start_server

ROOT = Path(__file__).resolve().parents[3]
MLFLOW = ROOT / ".venvs" / "mlflow" / "bin" / "mlflow"


def start_mlflow(workdir: Path) -> Server:
    """Start `mlflow server` from .venvs/mlflow (tests/setup/mlflow.sh makes it) on a free port."""
    if not MLFLOW.exists():
        raise RuntimeError(
            f"{MLFLOW} is missing; run `bash tests/setup/mlflow.sh` (or the whole `bash tests/run`)"
        )
    port = free_port()
    workdir.mkdir(parents=True, exist_ok=True)
    return start_server(
        "mlflow",
        [
            str(MLFLOW),
            "server",
            "--workers",
            "1",
            "--backend-store-uri",
            f"sqlite:///{workdir / 'mlflow.db'}",
            "--default-artifact-root",
            str(workdir / "artifacts"),
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
        ],
        port=port,
        workdir=workdir,
        ready_path="/health",
        timeout=120,
        env={"MLFLOW_SERVER_ENABLE_JOB_EXECUTION": "false"},
    )


@dataclass
class MlflowModel:
    """A registered model on the server: its name, versions and the run they came from."""

    server: Server
    name: str
    run_id: str
    versions: list[str]

    @property
    def api(self) -> str:
        return self.server.url + "/api/2.0/mlflow"

    def champion(self) -> str | None:
        response = httpx.get(f"{self.api}/registered-models/get", params={"name": self.name})
        response.raise_for_status()
        aliases = {a["alias"]: a["version"] for a in response.json()["registered_model"].get("aliases", [])}
        return aliases.get("champion")

    def set_alias(self, alias: str, version: str) -> None:
        httpx.post(
            f"{self.api}/registered-models/alias",
            json={"name": self.name, "alias": alias, "version": version},
        ).raise_for_status()


def create_model(server: Server, name: str) -> MlflowModel:
    """One run with an auc metric; three versions whose sources sit in that run's artifacts."""
    api = server.url + "/api/2.0/mlflow"
    run = httpx.post(f"{api}/runs/create", json={"experiment_id": "0", "run_name": name})
    run.raise_for_status()
    info = run.json()["run"]["info"]
    httpx.post(
        f"{api}/runs/log-metric",
        json={"run_id": info["run_id"], "key": "auc", "value": 0.93, "timestamp": 0, "step": 0},
    ).raise_for_status()
    httpx.post(f"{api}/registered-models/create", json={"name": name}).raise_for_status()
    versions = []
    for index in (1, 2, 3):
        created = httpx.post(
            f"{api}/model-versions/create",
            json={"name": name, "source": f"{info['artifact_uri']}/model-{index}", "run_id": info["run_id"]},
        )
        created.raise_for_status()
        versions.append(created.json()["model_version"]["version"])
    model = MlflowModel(server, name, info["run_id"], versions)
    model.set_alias("champion", versions[-1])
    return model


@pytest.fixture(scope="module")
def mlflow_server(tmp_path_factory):
    server = start_mlflow(tmp_path_factory.mktemp("mlflow"))
    yield server
    server.stop()


def write_workspace(directory: Path, url: str, *, extra: str = "") -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "oncall.yaml").write_text(
        f"registries:\n  - name: mlflow\n    kind: mlflow\n    url: {url}\n{extra}allow_actions: true\n"
    )
    from console.store import Store

    Store.open(directory / "oncall.duckdb").close()  # what the console would create; reads never do
    return directory / "oncall.yaml"


def oncall_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("ONCALL_NOW", "ONCALL_WORKSPACE")}
    return {**env, **extra}
