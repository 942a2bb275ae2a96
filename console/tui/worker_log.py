"""The console's log, `.oncall/console.log`: the full traceback of each failed worker.

Secrets are taken out of every line (`console.core.secrets.redact`)."""

from __future__ import annotations

import logging
import os
import time
from io import TextIOWrapper
from logging.handlers import RotatingFileHandler
from pathlib import Path
from typing import cast

from console.config.workspace import Workspace, ensure_state_dir
from console.core.private import tighten
from console.core.secrets import RedactingFormatter

LOG_NAME = "console.log"


class PrivateRotatingFileHandler(RotatingFileHandler):
    """A RotatingFileHandler whose files are created 0600, whatever the umask (a log an older
    oncall left wider is made 0600, with a note)."""

    def _open(self) -> TextIOWrapper:
        tighten([Path(self.baseFilename)], "console log")
        fd = os.open(self.baseFilename, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        return cast(
            TextIOWrapper, open(fd, self.mode, encoding=self.encoding, errors=self.errors)
        )  # text mode


class WorkerLog:
    """Opened on the first failure, so a console that never fails writes nothing."""

    def __init__(self, workspace: Workspace) -> None:
        self.workspace = workspace
        self.logger: logging.Logger | None = None
        self.handler: logging.Handler | None = None

    @property
    def path(self) -> Path:
        return self.workspace.state_dir / LOG_NAME

    def failure(self, what: str, error: BaseException) -> None:
        """Log `what` failed, with the traceback; raises OSError when the log cannot be written."""
        self._open().error("%s failed", what, exc_info=error)

    def repeat(self, what: str, count: int) -> None:
        """One line for a failure already logged with its traceback."""
        self._open().error("%s failed again (the same error, %d times in a row)", what, count)

    def note(self, text: str) -> None:
        self._open().info("%s", text)

    def _open(self) -> logging.Logger:
        if self.logger is None:
            ensure_state_dir(self.workspace)
            handler = PrivateRotatingFileHandler(
                self.path, maxBytes=1_000_000, backupCount=3, encoding="utf-8"
            )
            formatter = RedactingFormatter("%(asctime)s UTC %(levelname)s %(message)s")
            formatter.converter = time.gmtime
            handler.setFormatter(formatter)
            logger = logging.getLogger(f"oncall.console.{id(self)}")
            logger.propagate = False  # never onto the terminal the console draws on
            logger.setLevel(logging.INFO)
            logger.addHandler(handler)
            self.logger, self.handler = logger, handler
        return self.logger

    def close(self) -> None:
        if self.logger is not None and self.handler is not None:
            self.logger.removeHandler(self.handler)
            self.handler.close()
            logging.Logger.manager.loggerDict.pop(self.logger.name, None)
            self.logger = self.handler = None
