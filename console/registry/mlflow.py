"""The MLflow adapter: the REST API 2.0 over httpx, aliases (not the deprecated stages)."""

from __future__ import annotations

import os
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
from pydantic import Field, field_validator

from console.core.credentials import CredentialError, Credentials, client_auth
from console.core.secrets import mask_url, redact, remember
from console.registry.base import (
    Duration,
    ModelVersion,
    RegisteredModel,
    Registry,
    RegistryError,
    RegistryOptions,
    version_key,
)

API = "/api/2.0/mlflow"


class MlflowOptions(RegistryOptions, Credentials):
    """Where the tracking server is and how to authenticate (`token_env` unless another way)."""

    url: str = Field(min_length=1)
    token_env: str = "MLFLOW_TRACKING_TOKEN"
    timeout: Duration = timedelta(seconds=10)
    fetch_metrics: bool = True

    @field_validator("url")
    @classmethod
    def _http_url(cls, value: str) -> str:
        if not value.startswith(("http://", "https://")):
            raise ValueError("must be the tracking server's http:// or https:// URL")
        return value


def _ms(value: Any) -> datetime | None:
    if value in (None, "", 0):
        return None
    try:
        return datetime.fromtimestamp(int(value) / 1000, tz=UTC).replace(tzinfo=None)
    except (ValueError, TypeError, OverflowError, OSError):
        return None  # not a time (1e25 ms, text): shown as unknown, the model still listed


class MlflowRegistry(Registry):
    """A registry on an MLflow tracking server; every call is one REST request."""

    kind = "mlflow"
    Options = MlflowOptions
    options: MlflowOptions

    def __init__(
        self,
        name: str,
        options: MlflowOptions,
        *,
        transport: httpx.BaseTransport | None = None,
        base_dir: str = ".",
    ) -> None:
        super().__init__(name, options)
        self.url = options.url.rstrip("/")
        self.shown = mask_url(self.url)
        headers = {"User-Agent": "oncall"}
        try:
            auth, hooks = client_auth(options, self.url, base_dir)
        except CredentialError as exc:
            raise RegistryError(f"registry {name!r}: {exc}") from None
        token = os.environ.get(options.token_env)
        if token and (auth is None or auth.resolved.authorization is None):
            remember([token])
            headers["Authorization"] = f"Bearer {token}"
        self.client = httpx.Client(
            base_url=self.url + API,
            headers=headers,
            transport=transport,
            timeout=options.timeout.total_seconds(),
            auth=auth,
            event_hooks=hooks,
        )
        self._run_metrics: dict[str, dict[str, float]] = {}

    @property
    def where(self) -> str:
        return f"MLflow at {self.shown}"

    def close(self) -> None:
        self.client.close()

    # -- transport ----------------------------------------------------------------------

    def _call(
        self,
        method: str,
        path: str,
        *,
        params: dict[str, Any] | None = None,
        body: dict[str, Any] | None = None,
    ) -> dict[str, Any]:
        try:
            return self._request(method, path, params=params, body=body)
        except RegistryError as exc:
            raise RegistryError(redact(str(exc))) from None

    def _request(
        self,
        method: str,
        path: str,
        *,
        params: dict[str, Any] | None = None,
        body: dict[str, Any] | None = None,
    ) -> dict[str, Any]:
        where = f"{self.shown}{API}/{path}"
        try:
            response = self.client.request(method, path, params=params, json=body)
        except httpx.TimeoutException:
            raise RegistryError(
                f"{where}: no answer within {self.client.timeout.read}s; check the server or raise `timeout`"
            ) from None
        except httpx.HTTPError as exc:
            raise RegistryError(
                f"cannot reach MLflow at {self.shown}: {exc}; is the server running and `url` right?"
            ) from None
        if response.status_code >= 400:
            raise RegistryError(self._error_text(where, response))
        try:
            data = response.json() if response.content else {}
        except ValueError:
            raise RegistryError(
                f"{where}: HTTP {response.status_code} but the body is not JSON "
                f"({response.text[:80]!r}); is `url` an MLflow server?"
            ) from None
        if not isinstance(data, dict):
            raise RegistryError(f"{where}: expected a JSON object, got {type(data).__name__}")
        return data

    def _error_text(self, where: str, response: httpx.Response) -> str:
        code, message = "", response.text.strip()
        try:
            data = response.json()
            code, message = data.get("error_code", ""), data.get("message", message)
        except ValueError:
            pass
        message = " ".join(str(message).split())[:300]
        hint = {
            401: "; set the token in $" + self.options.token_env,
            403: "; the token lacks permission",
            404: "" if code else "; is `url` an MLflow tracking server?",
        }.get(response.status_code, "")
        if response.status_code >= 500:
            hint = "; the server failed, see its log"
        return f"{where}: HTTP {response.status_code}{' ' + code if code else ''}: {message}{hint}"

    def _pages(self, path: str, key: str, params: dict[str, Any]) -> list[dict[str, Any]]:
        items: list[dict[str, Any]] = []
        token = None
        while True:
            page = self._call("GET", path, params={**params, **({"page_token": token} if token else {})})
            items += page.get(key, []) or []
            token = page.get("next_page_token")
            if not token:
                return items

    # -- conversion -----------------------------------------------------------------------

    def _model(self, data: dict[str, Any]) -> RegisteredModel:
        aliases = {a["alias"]: str(a["version"]) for a in data.get("aliases", []) or []}
        latest = [str(v["version"]) for v in data.get("latest_versions", []) or []]
        return RegisteredModel(
            data["name"],
            aliases,
            _ms(data.get("last_updated_timestamp")),
            max(latest, key=version_key) if latest else None,
        )

    def _version(self, data: dict[str, Any]) -> ModelVersion:
        run_id = data.get("run_id") or None
        return ModelVersion(
            model=data["name"],
            version=str(data["version"]),
            created_at=_ms(data.get("creation_timestamp")),
            source=data.get("source"),
            run_id=run_id,
            tags={t["key"]: t.get("value", "") for t in data.get("tags", []) or []},
            metrics=self._metrics(run_id),
            aliases=sorted(data.get("aliases", []) or []),
        )

    def _metrics(self, run_id: str | None) -> dict[str, float]:
        if not run_id or not self.options.fetch_metrics:
            return {}
        if run_id not in self._run_metrics:
            try:
                run = self._call("GET", "runs/get", params={"run_id": run_id}).get("run", {})
            except RegistryError:
                run = {}
            self._run_metrics[run_id] = {
                m["key"]: m["value"] for m in run.get("data", {}).get("metrics", []) or []
            }
        return self._run_metrics[run_id]

    # -- the interface ------------------------------------------------------------------

    def list_models(self) -> list[RegisteredModel]:
        found = self._pages("registered-models/search", "registered_models", {"max_results": 1000})
        return sorted((self._model(m) for m in found), key=lambda m: m.name)

    def get_model(self, model: str) -> RegisteredModel:
        return self._model(
            self._call("GET", "registered-models/get", params={"name": model})["registered_model"]
        )

    def list_versions(self, model: str) -> list[ModelVersion]:
        escaped = model.replace("\\", "\\\\").replace("'", "\\'")
        found = self._pages(
            "model-versions/search", "model_versions", {"filter": f"name='{escaped}'", "max_results": 1000}
        )
        versions = sorted((self._version(v) for v in found), key=lambda v: version_key(v.version))
        aliases = self.get_model(model).aliases if versions else {}
        for mv in versions:  # search answers without aliases; the model knows them
            mv.aliases = sorted(set(mv.aliases) | {a for a, v in aliases.items() if v == mv.version})
        return versions

    def get_version(self, model: str, version: str) -> ModelVersion:
        return self._version(
            self._call("GET", "model-versions/get", params={"name": model, "version": str(version)})[
                "model_version"
            ]
        )

    def resolve_alias(self, model: str, alias: str) -> ModelVersion:
        return self._version(
            self._call("GET", "registered-models/alias", params={"name": model, "alias": alias})[
                "model_version"
            ]
        )

    def set_alias(self, model: str, alias: str, version: str) -> None:
        self._call(
            "POST", "registered-models/alias", body={"name": model, "alias": alias, "version": str(version)}
        )

    def delete_alias(self, model: str, alias: str) -> None:
        self._call(
            "DELETE",
            "registered-models/alias",
            params={"name": model, "alias": alias},
            body={"name": model, "alias": alias},
        )

    def set_tag(self, model: str, version: str, key: str, value: str) -> None:
        self._call(
            "POST",
            "model-versions/set-tag",
            body={"name": model, "version": str(version), "key": key, "value": str(value)},
        )
