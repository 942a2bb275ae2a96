"""A DSN's password never shows: not in output, JSON, errors, exceptions or reprs."""

from __future__ import annotations

import os
from datetime import datetime
from urllib.parse import urlsplit

import pytest

from console.config.workspace import WorkspaceError, load_workspace
from console.team import TeamBackend, TeamError
from tests.integration.team.conftest import PASSWORD, TeamWorkspace, team_workspace

pytestmark = pytest.mark.integration

COMMANDS = (
    ("team", "init"),
    ("team", "status"),
    ("team", "status", "--format", "json"),
    ("team", "import"),
    ("team", "import", "--format", "json"),
    ("check",),
    ("check", "--format", "json"),
)


def _every_command(ws: TeamWorkspace) -> list[str]:
    """Run each team command (ws.oncall asserts neither the password nor the DSN shows)."""
    return [ws.oncall(*command).stdout for command in COMMANDS]


def test_an_inline_url_with_a_password_is_masked_everywhere(pg, tmp_path):
    dsn = pg.database(password=PASSWORD)
    root = tmp_path / "ws"
    root.mkdir()
    (root / "oncall.yaml").write_text(f'team: {{postgres: "{dsn}"}}\n')
    ws = TeamWorkspace(root, dsn)
    outputs = _every_command(ws)
    assert "schema created" in outputs[0] and "reachable" in outputs[1]
    assert urlsplit(dsn).hostname in outputs[1]  # the masked form is still shown
    workspace = load_workspace(ws.path)
    assert PASSWORD not in repr(workspace.config) + str(workspace.config.model_dump())
    backend = TeamBackend.from_config(workspace.config.team, root)
    assert PASSWORD not in repr(backend.dsn) + str(backend.dsn)


def test_key_value_pairs_in_a_dsn_file_work_and_are_masked(pg, tmp_path):
    url = urlsplit(pg.database(password=PASSWORD))
    pairs = f"host=127.0.0.1 port={url.port} dbname={url.path[1:]} user=oncall password='{PASSWORD}'"
    ws = team_workspace(tmp_path / "ws", pairs)
    outputs = _every_command(ws)
    assert f"team database postgresql://***@127.0.0.1:{url.port}{url.path}: reachable" in outputs[1]


def test_failures_never_show_the_password(pg, tmp_path):
    url = urlsplit(pg.database(password=PASSWORD))
    refused = team_workspace(
        tmp_path / "refused", f"postgresql://oncall:{PASSWORD}@127.0.0.1:1/{url.path[1:]}"
    )
    for out in _every_command(refused):
        assert "postgresql://***@127.0.0.1:1/" in out or not out
    port = team_workspace(tmp_path / "port", f"postgresql://oncall:{PASSWORD}@127.0.0.1:port/db")
    done = port.oncall("team", "status")  # libpq reads it, then refuses to connect
    assert done.returncode == 1 and 'invalid integer value "port"' in done.stdout
    for name, dsn, says in (
        (
            "query",
            f"postgresql://oncall:{PASSWORD}@127.0.0.1:5432/db?bogus=1",
            'invalid URI query parameter: "bogus"',
        ),
        ("quote", f"host=127.0.0.1 password='{PASSWORD} port=5432", "unterminated quoted string"),
        ("equals", f"host=127.0.0.1 password={PASSWORD} port", 'missing "=" after "port"'),
    ):
        done = team_workspace(tmp_path / name, dsn).oncall("team", "init")
        assert done.returncode == 2 and "not a PostgreSQL connection string" in done.stderr, name
        assert says in done.stderr, name
    workspace = load_workspace(refused.path)
    backend = TeamBackend.from_config(workspace.config.team, refused.root)
    with pytest.raises(TeamError) as caught:
        backend.migrate(datetime(2026, 11, 20))
    assert PASSWORD not in str(caught.value) + repr(caught.value)


def test_a_dsn_file_others_can_read_is_refused(pg, tmp_path):
    ws = team_workspace(tmp_path / "ws", pg.database(password=PASSWORD))
    os.chmod(ws.root / "team.dsn", 0o644)
    done = ws.oncall("team", "init")
    assert done.returncode == 2
    assert (
        f"is readable by others (mode 0644); it holds the database's credentials: chmod 600 {ws.root / 'team.dsn'}"
        in done.stderr
    )
    check = ws.oncall("check")
    assert "is readable by others" in check.stdout and check.returncode == 1


def test_a_wrong_inline_value_is_not_echoed(tmp_path):
    (tmp_path / "oncall.yaml").write_text(f'team:\n  postgres: "host=db password={PASSWORD}"\n')
    with pytest.raises(WorkspaceError) as caught:
        load_workspace(tmp_path / "oncall.yaml")
    text = str(caught.value)
    assert "postgres must be a postgresql:// URL" in text and "oncall.yaml:" in text
    assert PASSWORD not in text


def test_team_names_one_database(tmp_path):
    (tmp_path / "oncall.yaml").write_text(
        f'team:\n  postgres: "postgresql://oncall:{PASSWORD}@db/x"\n  dsn_file: team.dsn\n'
    )
    with pytest.raises(WorkspaceError) as caught:
        load_workspace(tmp_path / "oncall.yaml")
    assert "give exactly one of postgres (a postgresql:// URL) or dsn_file" in str(caught.value)
    assert "got postgres and dsn_file" in str(caught.value) and PASSWORD not in str(caught.value)


def test_the_stores_copy_of_the_workspace_has_the_url_masked(tmp_path):
    """The last good version of oncall.yaml kept in the store (console/runtime/kept.py)."""
    from console.runtime.kept import LastGood
    from console.store import Store

    text = f'team: {{postgres: "postgresql://oncall:{PASSWORD}@db.internal:5432/oncall"}}\n'
    with Store.open(tmp_path / "oncall.duckdb") as store:
        LastGood(store).keep(tmp_path / "oncall.yaml", "workspace", text, datetime(2026, 11, 20))
        [(kept,)] = store.query("SELECT text FROM config_files")[1]
    assert PASSWORD not in kept and "postgresql://***@db.internal:5432/oncall" in kept
