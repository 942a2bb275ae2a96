"""A planted secret never shows: not in errors, status, JSON, logs, the timeline or any label.

One local server demands credentials, echoes the `Authorization` and `X-Api-Key` headers and
the query string in its refusals, hangs on `/slow`; one port has nothing listening.  The
workspace's sources carry `user:S3cret@` and `?token=S3cret` in their URLs and take their
credentials from files and environment variables.  The real CLI collects, shows status,
evaluates the health meta-alert, declares an incident from it and exports the postmortem;
then every text column of every table in the store is searched too.
"""

from __future__ import annotations

import base64
import json
import os
import queue
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import duckdb
import pytest

from tests.local_http import serve
from tests.servers import free_port
from tests.terminal_hostile import run_cli

URL_SECRET = "S3cret"
FILE_PASSWORD = "fIl3-pw-0931"
FILE_TOKEN = "t0ken-fr0m-file-77"
ENV_KEY = "k3y-fr0m-env-12"
ENV_TOKEN = "t0ken-fr0m-env-34"


def _basic(user: str, password: str) -> str:
    return base64.b64encode(f"{user}:{password}".encode()).decode()


PLANTED = [
    URL_SECRET,
    _basic("user", URL_SECRET),
    FILE_PASSWORD,
    _basic("scraper", FILE_PASSWORD),
    FILE_TOKEN,
    ENV_KEY,
    ENV_TOKEN,
]
ENV = {"ONCALL_NOW": "2026-03-01T12:00:00Z", "ONCALL_TEST_KEY": ENV_KEY, "ONCALL_TEST_TOKEN": ENV_TOKEN}
LATER = {**ENV, "ONCALL_NOW": "2026-03-01T12:10:00Z"}
METRICS = b"# TYPE app_up gauge\napp_up 1\n"


def _answer(handler, code: int, body: bytes) -> None:
    handler.send_response(code)
    handler.send_header("Content-Type", "text/plain")
    handler.send_header("Content-Length", str(len(body)))
    handler.end_headers()
    handler.wfile.write(body)


def _route(seen: list[str]):
    def route(handler) -> None:
        seen.append(handler.path)
        auth = handler.headers.get("Authorization", "")
        if handler.path.startswith("/metrics") and auth == "Basic " + _basic("scraper", FILE_PASSWORD):
            return _answer(handler, 200, METRICS)
        if handler.path.startswith("/slow"):
            time.sleep(3)  # the client has given up by now
            handler.close_connection = True
            return None
        key = handler.headers.get("X-Api-Key", "")
        _answer(handler, 403, f"forbidden for {auth} key={key} at {handler.path}".encode())

    return route


def write_workspace(root: Path, url: str, down: str) -> Path:
    (root / "secrets").mkdir()
    (root / "secrets" / "scrape-password").write_text(FILE_PASSWORD + "\n")
    (root / "secrets" / "prom-token").write_text(FILE_TOKEN)
    with_user = url.replace("http://", f"http://user:{URL_SECRET}@")
    (root / "oncall.yaml").write_text(f"""\
sources:
  - name: echo
    kind: scrape
    url: {with_user}/echo?token={URL_SECRET}
    headers: {{X-Api-Key: {{env: ONCALL_TEST_KEY}}}}
  - name: good
    kind: scrape
    url: {url}/metrics?token={URL_SECRET}
    basic_auth: {{username: scraper, password_file: secrets/scrape-password}}
  - name: down
    kind: scrape
    url: {down.replace("http://", f"http://user:{URL_SECRET}@")}/metrics?token={URL_SECRET}
  - name: slow
    kind: scrape
    url: {with_user}/slow?access_token={URL_SECRET}
    timeout: 0.5
  - name: prom
    kind: prometheus
    url: {url}/prom?token={URL_SECRET}
    authorization: {{credentials_file: secrets/prom-token}}
    queries: [up]
  - name: am
    kind: alertmanager
    url: {with_user}/am?token={URL_SECRET}
    bearer_token_env: ONCALL_TEST_TOKEN
  - name: nofile
    kind: scrape
    url: {url}/metrics
    basic_auth: {{username: scraper, password_file: secrets/missing}}
""")
    return root


def leaks(text: str) -> list[str]:
    return [secret for secret in PLANTED if secret in text]


def assert_clean(output, what: str) -> None:
    assert leaks(output.both) == [], f"{what} shows a secret:\n{output.both}"
    assert "Traceback" not in output.stderr, output.stderr


@pytest.fixture(scope="module")
def collected(tmp_path_factory):
    """The workspace collected once through the real CLI, the health alert evaluated ten
    minutes later and an incident declared from it, with what each command printed."""
    root = tmp_path_factory.mktemp("secrets")
    seen: list[str] = []
    with serve(_route(seen), raw=True) as url:
        write_workspace(root, url, f"http://127.0.0.1:{free_port()}")
        outputs = {
            "once": run_cli("collect", "--once", workspace=root, env=ENV),
            "once-json": run_cli("collect", "--once", "--format", "json", workspace=root, env=ENV),
        }
        outputs["rules eval"] = run_cli("rules", "eval", "--format", "json", workspace=root, env=LATER)
        outputs["alerts"] = run_cli("alerts", "--format", "json", workspace=root, env=LATER)
        unhealthy = [a for a in json.loads(outputs["alerts"].stdout) if a["name"] == "CollectorUnhealthy"]
        outputs["declare"] = run_cli(
            "incident", "declare", "--alert", unhealthy[0]["fingerprint"], workspace=root, env=LATER
        )
    return root, url, seen, outputs, unhealthy


def errors_by_source(output) -> dict[str, str]:
    return {row["name"]: row["error"] for row in json.loads(output.stdout)}


def test_collect_once_errors_are_masked_and_still_say_what_failed(collected):
    root, url, seen, outputs, _ = collected
    port = url.rsplit(":", 1)[1]
    for name in ("once", "once-json"):
        output = outputs[name]
        assert output.code == 1
        assert_clean(output, f"collect --once ({name})")
    errors = errors_by_source(outputs["once-json"])
    assert errors["good"] is None and errors["prom"] and errors["am"]
    assert errors["echo"] == (
        f"http://***@127.0.0.1:{port}/echo?token=***: HTTP 403: "
        f"forbidden for Basic *** key=*** at /echo?token=***"
    )
    assert "cannot connect" in errors["down"] and "/metrics?token=***:" in errors["down"]
    assert "deadline 0.5s exceeded" in errors["slow"] and "/slow?access_token=***:" in errors["slow"]
    assert (
        "forbidden for Bearer ***" in errors["prom"]
        and "/prom/api/v1/query_range?token=***" in errors["prom"]
    )
    assert "forbidden for Bearer ***" in errors["am"]
    assert errors["nofile"] == (
        f"option basic_auth.password_file: cannot read "
        f"{root / 'secrets' / 'missing'} (No such file or directory); "
        "create it or fix the path"
    )
    # the credentials did reach the server: the source URL's query is kept when joining paths
    assert any(path.startswith(f"/prom/api/v1/query_range?token={URL_SECRET}&query=up") for path in seen)
    assert f"/am/api/v2/alerts?token={URL_SECRET}" in seen


def test_collect_status_table_and_json_are_masked(collected):
    root = collected[0]
    table = run_cli("collect", "--status", workspace=root, env=ENV)
    as_json = run_cli("collect", "--status", "--format", "json", workspace=root, env=ENV)
    for output in (table, as_json):
        assert output.code == 1
        assert_clean(output, "collect --status")
    status = {row["source"]: row for row in json.loads(as_json.stdout)}
    assert status["good"]["health"] == "healthy"
    assert status["echo"]["health"] == "UNHEALTHY"
    assert "forbidden for Basic *** key=***" in status["echo"]["last_error"]


def test_health_alert_incident_timeline_and_postmortem_are_masked(collected):
    root, _, _, outputs, unhealthy = collected
    for name in ("rules eval", "alerts", "declare"):
        assert_clean(outputs[name], name)
    assert outputs["declare"].code == 0, outputs["declare"].both
    assert {a["labels"]["collector"] for a in unhealthy} >= {"echo", "down", "slow", "nofile"}
    for args in (
        ("alerts",),
        ("incident", "list"),
        ("incident", "show", "1"),
        ("incident", "show", "1", "--format", "json"),
        ("incident", "export", "1"),
        ("incident", "export", "1", "--format", "json"),
        ("check",),
        ("check", "--format", "json"),
    ):
        assert_clean(run_cli(*args, workspace=root, env=LATER), " ".join(args))


def test_collect_in_the_foreground_logs_masked_lines(collected):
    root = collected[0]
    lines: queue.Queue[str] = queue.Queue()  # the server has stopped: every source fails
    process = subprocess.Popen(
        [sys.executable, "-m", "console", "-w", str(root), "collect"],
        cwd=root,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env={**os.environ, **ENV},
    )
    threading.Thread(target=lambda: [lines.put(line) for line in process.stdout], daemon=True).start()
    got: list[str] = []
    deadline = time.monotonic() + 90
    try:
        while time.monotonic() < deadline and len([g for g in got if "rows in" in g]) < 7:
            try:
                got.append(lines.get(timeout=1))
            except queue.Empty:
                continue
    finally:
        process.send_signal(signal.SIGINT)
        process.wait(timeout=60)
    time.sleep(0.2)
    while not lines.empty():
        got.append(lines.get())
    text = "".join(got)
    assert len([g for g in got if "rows in" in g]) == 7, text
    assert "FAILED: http://***@127.0.0.1:" in text
    assert leaks(text) == [] and "Traceback" not in text, text


def test_no_text_column_of_any_table_holds_a_secret(collected):
    root = collected[0]
    with duckdb.connect(str(root / "oncall.duckdb"), read_only=True) as db:
        columns = db.execute(
            "SELECT table_schema, table_name, column_name FROM information_schema.columns "
            "WHERE data_type IN ('VARCHAR', 'JSON') AND table_schema = 'main'"
        ).fetchall()
        tables = {table for _, table, _ in columns}
        assert {"series", "collector_state", "alerts", "incidents"} <= tables
        found = []
        for schema, table, column in columns:
            for secret in PLANTED:
                hits = db.execute(
                    f'SELECT count(*) FROM "{schema}"."{table}" WHERE strpos("{column}", ?) > 0', [secret]
                ).fetchone()[0]
                if hits:
                    found.append(f"{table}.{column}: {secret}")
        instances = {
            json.loads(labels).get("instance")
            for (labels,) in db.execute("SELECT labels FROM series WHERE name = 'up'").fetchall()
        }
    assert found == []
    port = collected[1].rsplit(":", 1)[1]
    assert f"127.0.0.1:{port}" in instances and all("@" not in i for i in instances)
