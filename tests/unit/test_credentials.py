"""Credentials the Prometheus way: basic_auth, authorization, headers from files or environment."""

from __future__ import annotations

import json
from pathlib import Path

import httpx
import pytest
from pydantic import ValidationError

from collectors.base import SourceError
from collectors.http import HttpOptions, fetch, join_url, make_client
from console.alerts.alertmanager import AlertmanagerError, from_workspace
from console.config.workspace import load_workspace
from console.registry.base import RegistryError
from console.registry.mlflow import MlflowOptions, MlflowRegistry
from tests.local_http import serve


def sent(options: dict, base_dir: Path | str = ".", url: str = "http://src.test/m") -> httpx.Request:
    """The request a client made from these options sends."""
    seen: list[httpx.Request] = []
    transport = httpx.MockTransport(lambda r: seen.append(r) or httpx.Response(200))
    with make_client(HttpOptions(url=url, **options), transport, base_dir=base_dir) as client:
        client.get(url)
    return seen[-1]


def test_basic_auth_password_from_a_file_relative_to_the_workspace(tmp_path: Path) -> None:
    (tmp_path / "secrets").mkdir()
    (tmp_path / "secrets" / "pw").write_text("pw\n")
    request = sent({"basic_auth": {"username": "oncall", "password_file": "secrets/pw"}}, tmp_path)
    assert request.headers["Authorization"] == "Basic b25jYWxsOnB3"


def test_authorization_and_headers_from_file_env_and_value(tmp_path: Path, monkeypatch) -> None:
    (tmp_path / "token").write_text("t0ken-from-file")
    monkeypatch.setenv("ONCALL_T_KEY", "key-from-env")
    request = sent(
        {
            "authorization": {"credentials_file": "token"},
            "headers": {"X-Api-Key": {"env": "ONCALL_T_KEY"}, "X-Org": {"value": "fraud"}},
        },
        tmp_path,
    )
    assert request.headers["Authorization"] == "Bearer t0ken-from-file"
    assert request.headers["X-Api-Key"] == "key-from-env"
    assert request.headers["X-Org"] == "fraud"
    monkeypatch.setenv("ONCALL_T_TOKEN", "t0ken-from-env")
    request = sent({"authorization": {"type": "Token", "credentials_env": "ONCALL_T_TOKEN"}})
    assert request.headers["Authorization"] == "Token t0ken-from-env"


def test_url_userinfo_still_authenticates_next_to_other_headers(monkeypatch) -> None:
    monkeypatch.setenv("ONCALL_T_KEY", "key-from-env")
    request = sent({"headers": {"X-Api-Key": {"env": "ONCALL_T_KEY"}}}, url="http://oncall:pw@src.test/m")
    assert request.headers["Authorization"] == "Basic b25jYWxsOnB3"


@pytest.mark.parametrize(
    ("content", "problem"),
    [
        (None, "cannot read {path} (No such file or directory); create it or fix the path"),
        ("", "{path} is empty; put the secret in it"),
        ("line-one-S3cret\nline-two-S3cret\n", "{path} holds more than one line"),
    ],
)
def test_an_unreadable_secret_file_is_one_line_naming_option_and_file(
    tmp_path: Path, content: str | None, problem: str
) -> None:
    path = tmp_path / "pw"
    if content is not None:
        path.write_text(content)
    with pytest.raises(SourceError) as raised:
        make_client(
            HttpOptions(url="http://src.test", basic_auth={"username": "u", "password_file": "pw"}),
            base_dir=tmp_path,
        )
    message = str(raised.value)
    assert message.startswith(f"option basic_auth.password_file: {problem.format(path=path)}")
    assert "\n" not in message and "S3cret" not in message


def test_a_missing_variable_names_it_and_the_option(monkeypatch) -> None:
    monkeypatch.delenv("ONCALL_T_NONE", raising=False)
    with pytest.raises(
        SourceError,
        match=r"^environment variable ONCALL_T_NONE \(from option "
        r"headers.X-Key.env\) is not set; export it",
    ):
        make_client(HttpOptions(url="http://s", headers={"X-Key": {"env": "ONCALL_T_NONE"}}))


@pytest.mark.parametrize(
    ("options", "words"),
    [
        ({"basic_auth": {"username": "u", "password": "inline"}}, "Extra inputs are not permitted"),
        ({"basic_auth": {"password_file": "f"}}, "give exactly one of username, username_env"),
        (
            {"authorization": {"credentials_file": "a", "credentials_env": "B"}},
            "give exactly one of credentials_file, credentials_env",
        ),
        ({"headers": {"X-Key": "inline-S3cret"}}, "a secret belongs in a file or the environment"),
        ({"headers": {"Bad Name": {"value": "x"}}}, "is not an HTTP header name"),
        (
            {"bearer_token_env": "T", "basic_auth": {"username": "u"}},
            "give one way to authenticate, not basic_auth and bearer_token_env",
        ),
    ],
)
def test_option_mistakes_are_refused_with_what_to_do(options: dict, words: str) -> None:
    with pytest.raises(ValidationError, match=words):
        HttpOptions(url="http://s", **options)


def test_the_workspace_check_never_echoes_an_inline_credential(tmp_path: Path) -> None:
    (tmp_path / "oncall.yaml").write_text(
        "sources:\n  - name: a\n    kind: scrape\n    url: http://h/m\n"
        "    headers: {X-Api-Key: inline-S3cret}\n"
        "    basic_auth: {username: u, password_file: 7}\n"
    )
    from console.config.workspace import WorkspaceError

    with pytest.raises(WorkspaceError) as raised:
        load_workspace(tmp_path / "oncall.yaml")
    lines = [str(p) for p in raised.value.problems]
    assert any("sources[0].headers.X-Api-Key: give {file: PATH}" in line for line in lines)
    assert any(
        "password_file: Input should be a valid string (got a value not shown" in line for line in lines
    )
    assert not [line for line in lines if "S3cret" in line]


def test_join_url_keeps_the_source_query() -> None:
    assert (
        join_url("http://h:1/prom/?token=t", "api/v1/query_range")
        == "http://h:1/prom/api/v1/query_range?token=t"
    )
    assert join_url("http://h", "/api/v2/alerts") == "http://h/api/v2/alerts"


def _echo(handler) -> None:
    body = json.dumps(
        {"authorization": handler.headers.get("Authorization"), "key": handler.headers.get("X-Api-Key")}
    ).encode()
    handler.send_response(200)
    handler.send_header("Content-Length", str(len(body)))
    handler.end_headers()
    handler.wfile.write(body)


def test_a_redirect_to_another_origin_carries_no_secret_header(monkeypatch) -> None:
    monkeypatch.setenv("ONCALL_T_KEY", "key-from-env")
    monkeypatch.setenv("ONCALL_T_TOKEN", "t0ken-from-env")
    with serve(_echo, raw=True) as elsewhere:

        def hop(handler) -> None:
            if handler.path == "/hop":
                handler.send_response(302)
                handler.send_header("Location", elsewhere + "/land")
                handler.send_header("Content-Length", "0")
                handler.end_headers()
            else:
                _echo(handler)

        with serve(hop, raw=True) as source:
            options = HttpOptions(
                url=source,
                headers={"X-Api-Key": {"env": "ONCALL_T_KEY"}},
                authorization={"credentials_env": "ONCALL_T_TOKEN"},
            )
            with make_client(options) as client:
                home = json.loads(fetch(client, "GET", source + "/here", max_bytes=1000).content)
                away = json.loads(fetch(client, "GET", source + "/hop", max_bytes=1000).content)
    assert home == {"authorization": "Bearer t0ken-from-env", "key": "key-from-env"}
    assert away == {"authorization": None, "key": None}


def test_mlflow_errors_are_masked_and_redacted(tmp_path: Path) -> None:
    (tmp_path / "pw").write_text("mlflow-S3cret-pw")

    def refuse(request: httpx.Request) -> httpx.Response:
        return httpx.Response(
            403,
            json={
                "error_code": "PERMISSION_DENIED",
                "message": f"denied for {request.headers['Authorization']} (password mlflow-S3cret-pw)",
            },
        )

    registry = MlflowRegistry(
        "ml",
        MlflowOptions(
            url="http://user:S3cretInUrl@mlflow.test:5000",
            basic_auth={"username": "oncall", "password_file": "pw"},
        ),
        transport=httpx.MockTransport(refuse),
        base_dir=str(tmp_path),
    )
    with pytest.raises(RegistryError) as raised:
        registry.list_models()
    message = str(raised.value)
    assert message.startswith(
        "http://***@mlflow.test:5000/api/2.0/mlflow/registered-models/"
        "search: HTTP 403 PERMISSION_DENIED: denied for Basic *** "
        "(password ***)"
    )
    assert registry.where == "MLflow at http://***@mlflow.test:5000"
    with pytest.raises(
        RegistryError,
        match=r"^registry 'ml': option basic_auth.password_file: "
        r"cannot read",
    ):
        MlflowRegistry(
            "ml",
            MlflowOptions(url="http://m", basic_auth={"username": "u", "password_file": "missing"}),
            base_dir=str(tmp_path),
        )


def test_an_alertmanager_whose_credential_is_missing_fails_each_send_in_one_line(tmp_path: Path) -> None:
    (tmp_path / "oncall.yaml").write_text(
        "sources:\n  - name: am\n    kind: alertmanager\n"
        "    url: http://u:S3cret@am.test:9093/?token=S3cret\n"
        "    authorization: {credentials_file: secrets/am-token}\n"
    )
    client = from_workspace(load_workspace(tmp_path / "oncall.yaml"))
    with pytest.raises(AlertmanagerError) as raised:
        client.expire_silence("abc")
    assert str(raised.value) == (
        f"http://***@am.test:9093/api/v2/silence/abc?token=***: source 'am': option "
        f"authorization.credentials_file: cannot read {tmp_path / 'secrets' / 'am-token'} "
        "(No such file or directory); create it or fix the path"
    )
