"""A real Alertmanager on 127.0.0.1 with a temporary data directory."""

from __future__ import annotations

import pytest

from tests.servers import free_port, require_binary, start_server

CONFIG = """\
route:
  receiver: nobody
  group_wait: 1s
receivers:
  - name: nobody
"""


@pytest.fixture(scope="module")
def alertmanager(tmp_path_factory):
    binary = require_binary("/usr/bin/prometheus-alertmanager")
    workdir = tmp_path_factory.mktemp("alertmanager")
    (workdir / "alertmanager.yml").write_text(CONFIG)
    port = free_port()
    server = start_server(
        "alertmanager",
        [binary, f"--config.file={workdir / 'alertmanager.yml'}",
         f"--storage.path={workdir / 'data'}", f"--web.listen-address=127.0.0.1:{port}",
         "--cluster.listen-address="],
        port=port, workdir=workdir, ready_path="/-/ready")
    yield server
    server.stop()
