"""The MLflow adapter's errors and auth, for fault shapes a real server will not produce."""

from __future__ import annotations

import httpx
import pytest

from console.registry import RegistryError
from console.registry.mlflow import MlflowOptions, MlflowRegistry
from tests.servers import free_port


def _registry(handler, **options) -> MlflowRegistry:
    return MlflowRegistry(
        "ml", MlflowOptions(url="http://127.0.0.1:5000", **options), transport=httpx.MockTransport(handler)
    )


def test_server_error_is_one_line_naming_the_url():
    registry = _registry(lambda r: httpx.Response(503, text="upstream\nbroken"))
    with pytest.raises(RegistryError) as caught:
        registry.list_models()
    text = str(caught.value)
    assert "\n" not in text
    assert text.startswith("http://127.0.0.1:5000/api/2.0/mlflow/registered-models/search: HTTP 503")
    assert "see its log" in text


def test_html_answer_says_the_url_is_probably_wrong():
    registry = _registry(lambda r: httpx.Response(200, text="<html>login</html>"))
    with pytest.raises(RegistryError, match=r"not JSON.*is `url` an MLflow server"):
        registry.get_model("m")


def test_token_comes_from_the_named_environment_variable(monkeypatch):
    seen = {}

    def handler(request):
        seen["auth"] = request.headers.get("authorization")
        return httpx.Response(401, json={"error_code": "UNAUTHENTICATED", "message": "bad token"})

    monkeypatch.setenv("MY_MLFLOW_TOKEN", "s3cret")
    registry = _registry(handler, token_env="MY_MLFLOW_TOKEN")
    with pytest.raises(
        RegistryError, match=r"HTTP 401 UNAUTHENTICATED: bad token; set the token in \$MY_MLFLOW_TOKEN"
    ):
        registry.list_models()
    assert seen["auth"] == "Bearer s3cret"


def test_nothing_listening_says_so():
    registry = MlflowRegistry("ml", MlflowOptions(url=f"http://127.0.0.1:{free_port()}"))
    with pytest.raises(
        RegistryError, match=r"cannot reach MLflow at http://127.0.0.1:.*is the server running"
    ):
        registry.list_models()
