"""A real Alertmanager on 127.0.0.1 with a temporary data directory."""

from __future__ import annotations

import pytest

from tests.servers import start_alertmanager


@pytest.fixture(scope="module")
def alertmanager(tmp_path_factory):
    server = start_alertmanager(tmp_path_factory.mktemp("alertmanager"))
    yield server
    server.stop()
