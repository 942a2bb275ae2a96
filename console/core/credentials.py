"""Credentials for HTTP sources, the Prometheus way: `basic_auth`, `authorization`, `headers`.

Secret values live in files (relative to the workspace) or environment variables, never in
the workspace YAML.  They are read each time a client is made, so a rotated file is picked up
at the next run; every value read is remembered by `console.core.secrets` so no error, status line
or log shows it.
"""

from __future__ import annotations

import os
import re
from collections.abc import Generator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any

import httpx
from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, field_validator, model_validator

from console.core.secrets import basic_token, remember, url_secrets

MAX_SECRET_BYTES = 64 << 10
_HEADER_NAME = re.compile(r"^[!#$%&'*+.^_`|~0-9A-Za-z-]+$")


class CredentialError(Exception):
    """A secret could not be read; the message names the option and the file or variable."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


def _one_of(model: BaseModel, names: tuple[str, ...], required: bool = True) -> None:
    given = [name for name in names if getattr(model, name) is not None]
    if len(given) > 1 or (required and not given):
        raise ValueError(
            f"give {'exactly' if required else 'at most'} one of "
            f"{', '.join(names)} (got {', '.join(given) or 'none'})"
        )


class BasicAuthOptions(_Strict):
    """HTTP Basic: a user name and a password from a file or an environment variable."""

    username: str | None = Field(default=None, min_length=1)
    username_env: str | None = Field(default=None, min_length=1)
    username_file: str | None = Field(default=None, min_length=1)
    password_file: str | None = Field(default=None, min_length=1)
    password_env: str | None = Field(default=None, min_length=1)

    @model_validator(mode="after")
    def _sources(self) -> BasicAuthOptions:
        _one_of(self, ("username", "username_env", "username_file"))
        _one_of(self, ("password_file", "password_env"), required=False)
        return self


class AuthorizationOptions(_Strict):
    """An `Authorization: TYPE CREDENTIALS` header, the credentials from a file or a variable."""

    type: str = Field(default="Bearer", pattern=r"^[A-Za-z][A-Za-z0-9._-]*$")
    credentials_file: str | None = Field(default=None, min_length=1)
    credentials_env: str | None = Field(default=None, min_length=1)

    @model_validator(mode="after")
    def _sources(self) -> AuthorizationOptions:
        _one_of(self, ("credentials_file", "credentials_env"))
        return self


class HeaderValue(_Strict):
    """One request header's value: from a file, an environment variable, or given as is."""

    file: str | None = Field(default=None, min_length=1)
    env: str | None = Field(default=None, min_length=1)
    value: str | None = None

    @model_validator(mode="after")
    def _sources(self) -> HeaderValue:
        _one_of(self, ("file", "env", "value"))
        return self


def _not_inline(value: Any) -> Any:
    if isinstance(value, str):
        raise ValueError(
            "give {file: PATH}, {env: VARIABLE} or {value: TEXT}; "
            "a secret belongs in a file or the environment"
        )
    return value


HeaderOption = Annotated[HeaderValue, BeforeValidator(_not_inline)]


class Credentials(BaseModel):
    """The options an HTTP source takes to authenticate (mixed into its options model)."""

    basic_auth: BasicAuthOptions | None = None
    authorization: AuthorizationOptions | None = None
    headers: dict[str, HeaderOption] = {}
    bearer_token_env: str | None = None  # kept: `authorization: {credentials_env: …}`
    username_env: str | None = None  # kept: `basic_auth: {username_env: …}`
    password_env: str | None = None

    @field_validator("headers")
    @classmethod
    def _header_names(cls, value: dict[str, HeaderValue]) -> dict[str, HeaderValue]:
        for name in value:
            if not _HEADER_NAME.match(name):
                raise ValueError(f"{name!r} is not an HTTP header name")
        return value

    @model_validator(mode="after")
    def _one_way(self) -> Credentials:
        ways = [
            name
            for name in ("basic_auth", "authorization", "bearer_token_env", "username_env")
            if getattr(self, name) is not None
        ]
        if any(name.lower() == "authorization" for name in self.headers):
            ways.append("headers.Authorization")
        if len(ways) > 1:
            raise ValueError(f"give one way to authenticate, not {' and '.join(ways)}")
        return self


@dataclass
class Resolved:
    """What to send: the Authorization header (if any), other headers, and every secret read."""

    authorization: str | None = None
    headers: dict[str, str] = field(default_factory=dict)
    secrets: list[str] = field(default_factory=list)

    def __bool__(self) -> bool:
        return self.authorization is not None or bool(self.headers)


def read_secret(
    option: str, *, file: str | None = None, env: str | None = None, base_dir: str | Path = "."
) -> str:
    """The secret in `file` (relative to `base_dir`) or in environment variable `env`."""
    if env is not None:
        value = os.environ.get(env)
        if value is None:
            raise CredentialError(
                f"environment variable {env} (from option {option}) is not "
                "set; export it or remove the option"
            )
        return value
    path = Path(base_dir, os.path.expanduser(str(file)))
    try:
        with open(path, "rb") as handle:
            data = handle.read(MAX_SECRET_BYTES + 1)
    except OSError as exc:
        raise CredentialError(
            f"option {option}: cannot read {path} ({exc.strerror or exc}); create it or fix the path"
        ) from None
    return _file_secret(option, path, data)


def _file_secret(option: str, path: Path, data: bytes) -> str:
    """A secret file's one line of text; a CredentialError saying how the file is wrong."""
    if len(data) > MAX_SECRET_BYTES:
        raise CredentialError(
            f"option {option}: {path} is larger than {MAX_SECRET_BYTES} bytes; it should hold only the secret"
        )
    try:
        value = data.decode("utf-8").strip()
    except UnicodeDecodeError:
        raise CredentialError(f"option {option}: {path} is not UTF-8 text") from None
    if not value:
        raise CredentialError(f"option {option}: {path} is empty; put the secret in it")
    if "\n" in value or "\r" in value:
        raise CredentialError(f"option {option}: {path} holds more than one line; put only the secret in it")
    return value


def resolve(options: Credentials, base_dir: str | Path = ".") -> Resolved:
    """Read every secret the options name; a CredentialError names the first that failed."""
    resolved = Resolved()
    _resolve_basic(options, base_dir, resolved)
    _resolve_authorization(options, base_dir, resolved)
    for name, header in options.headers.items():
        _resolve_header(name, header, base_dir, resolved)
    remember(resolved.secrets)
    return resolved


def _resolve_basic(options: Credentials, base_dir: str | Path, resolved: Resolved) -> None:
    """Basic auth from `basic_auth:` or the older top-level `username_env`/`password_env`."""
    basic = options.basic_auth
    if basic is None and options.username_env:
        basic = BasicAuthOptions(username_env=options.username_env, password_env=options.password_env)
        prefix = ""
    else:
        prefix = "basic_auth."
    if basic is None:
        return
    username = (
        basic.username
        if basic.username is not None
        else _env_or_file(prefix + "username", basic.username_env, basic.username_file, base_dir)
    )
    password = (
        ""
        if basic.password_file is None and basic.password_env is None
        else _env_or_file(prefix + "password", basic.password_env, basic.password_file, base_dir)
    )
    token = basic_token(username, password)
    resolved.authorization = "Basic " + token
    resolved.secrets += [password, token]


def _env_or_file(option: str, env: str | None, file: str | None, base_dir: str | Path) -> str:
    """The secret of option `<option>_env` or `<option>_file`, whichever is given."""
    return read_secret(f"{option}_env" if env else f"{option}_file", file=file, env=env, base_dir=base_dir)


def _resolve_authorization(options: Credentials, base_dir: str | Path, resolved: Resolved) -> None:
    """The Authorization header from `authorization:` or the older `bearer_token_env`."""
    auth = options.authorization
    if auth is None and options.bearer_token_env:
        auth = AuthorizationOptions(credentials_env=options.bearer_token_env)
        where = "bearer_token_env"
    else:
        where = "authorization." + (
            "credentials_env" if auth and auth.credentials_env else "credentials_file"
        )
    if auth is None:
        return
    credentials = read_secret(where, file=auth.credentials_file, env=auth.credentials_env, base_dir=base_dir)
    resolved.authorization = f"{auth.type} {credentials}"
    resolved.secrets += [credentials]


def _resolve_header(name: str, header: HeaderValue, base_dir: str | Path, resolved: Resolved) -> None:
    value = (
        header.value
        if header.value is not None
        else read_secret(
            f"headers.{name}.{'env' if header.env else 'file'}",
            file=header.file,
            env=header.env,
            base_dir=base_dir,
        )
    )
    if "\n" in value or "\r" in value:
        raise CredentialError(f"option headers.{name}: the value holds a line break")
    if name.lower() == "authorization":
        resolved.authorization = value
    else:
        resolved.headers[name] = value
    resolved.secrets.append(value)


class SecretAuth(httpx.Auth):
    """Adds the resolved credentials to each request, and the URL's userinfo as Basic auth.

    Its `strip_foreign` is the client's request hook: a redirect to another origin gets none
    of the secret headers (httpx itself drops only `Authorization`); an upgrade from http to
    https on the same host keeps them, as httpx does.
    """

    def __init__(self, resolved: Resolved, source_url: str) -> None:
        self.resolved = resolved
        self.source = httpx.URL(source_url)

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        if self.resolved.authorization is not None:
            request.headers["Authorization"] = self.resolved.authorization
        elif request.url.username or request.url.password:  # httpx skips this once auth is set
            request.headers["Authorization"] = "Basic " + basic_token(
                request.url.username, request.url.password
            )
        for name, value in self.resolved.headers.items():
            request.headers[name] = value
        yield request

    def strip_foreign(self, request: httpx.Request) -> None:
        if not _same_site(self.source, request.url):
            for name in [*self.resolved.headers, "Authorization"]:
                request.headers.pop(name, None)


def _same_site(source: httpx.URL, target: httpx.URL) -> bool:
    if source.host != target.host:
        return False
    if source.scheme == target.scheme:
        return source.port == target.port
    return target.scheme == "https" and target.port is None


def client_auth(
    options: Credentials,
    url: str,
    base_dir: str | Path = ".",
) -> tuple[SecretAuth | None, dict[str, Any]]:
    """The auth and event hooks for an httpx client of a source at `url` with these options."""
    remember(url_secrets(url))
    resolved = resolve(options, base_dir)
    if not resolved:
        return None, {}
    auth = SecretAuth(resolved, url)
    return auth, {"request": [auth.strip_foreign]}
