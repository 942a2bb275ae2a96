"""What a run acts with and hands back: its context, errors, previews and outcomes, and the audit."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

from console.playbooks.model import Step

if TYPE_CHECKING:
    from duckdb import DuckDBPyConnection

    from console.config.workspace import Workspace
    from console.registry import Registry
    from console.store import Store

OUTPUT_LIMIT = 20_000
ROW_LIMIT = 200


class RunError(Exception):
    """A run that cannot go on as asked (render failure, missing answer, no confirmation)."""


class RenderError(RunError):
    """A template of the step that does not render: the step is failed and the run stops there."""


class StepRefused(RunError):
    """A command step that may not run (unsafe argv, a value failing its type); audited `denied`."""

    def __init__(self, message: str, detail: dict[str, Any]) -> None:
        super().__init__(message)
        self.detail = detail


class ActionUnavailable(Exception):
    """An action kind whose implementation is missing or cannot run here."""


@dataclass
class PlannedAction:
    """What an action step will change, shown before it runs; `apply` does it."""

    kind: str
    text: str
    params: dict[str, Any]
    apply: Callable[[str, str | None], dict[str, Any]]  # (reason, typed_name) -> result
    protected: bool = False
    model: str | None = None


@dataclass
class RunContext:
    """What a run acts with: the store, who acts, the clock, and the workspace's permissions."""

    store: Store
    actor: str
    clock: Callable[[], datetime]  # UTC, naive
    sleep: Callable[[float], None] | None = None  # time.sleep by default
    workspace: Workspace | None = None
    allow_actions: bool | None = None  # overrides the workspace when set
    registry: Registry | None = None  # a Registry to act on instead of the workspace's
    protected_models: list[str] = field(default_factory=list)
    secrets: list[str] = field(default_factory=list)
    slos: list[Any] | None = None  # the SLOs in force, to rank suspects; the workspace's files when None

    def allows_actions(self) -> bool:
        if self.allow_actions is not None:
            return self.allow_actions
        return bool(self.workspace is not None and self.workspace.allow_actions)


@dataclass
class Preview:
    """A step fully resolved, as it will run: shown before anything happens."""

    step: Step
    title: str
    text: str
    argv: list[str] | None = None  # command: exactly the argv (secrets shown as ***)
    sql: str | None = None
    params: list[str] | None = None
    plan: PlannedAction | None = None
    question: str | None = None
    answers: list[str] = field(default_factory=list)
    error: str | None = None  # the step cannot render / plan: why

    @property
    def needs_confirmation(self) -> bool:
        return self.step.kind in ("command", "action")


@dataclass
class Outcome:
    """What one step did: its outcome, output, and where the run goes next."""

    step_id: str
    kind: str
    outcome: str  # done, passed, failed, answered, timeout, skipped
    actor: str
    ts: datetime
    next_step: str | None
    output: dict[str, Any] = field(default_factory=dict)
    error: str | None = None


def alert_context(alert: dict[str, Any] | None) -> dict[str, Any]:
    """The template view of an alert row: name, fingerprint, labels, annotations, value."""
    if not alert:
        return {"name": "", "fingerprint": "", "labels": {}, "annotations": {}, "value": None}
    return {
        "name": alert.get("name", ""),
        "fingerprint": alert.get("fingerprint", ""),
        "labels": dict(alert.get("labels") or {}),
        "annotations": dict(alert.get("annotations") or {}),
        "value": alert.get("value"),
        "state": alert.get("state"),
    }


def no_suspects(error: str = "") -> dict[str, Any]:
    """The suspects part of a run's context when none were ranked (`error`: why not, if it failed)."""
    return {"suspects": [], "top_suspect": None, "new_version": None, "suspects_error": error}


def stored_context(variables: str | None) -> dict[str, Any]:
    """A stored run's template context; a run started before suspects were kept reads as having none."""
    import json

    context: dict[str, Any] = json.loads(variables or "{}")
    for key, value in no_suspects().items():
        context.setdefault(key, value)
    return context


def redact_secrets(text: str, secrets: list[str]) -> str:
    """`text` with each secret shown as ***."""
    for secret in secrets:
        text = text.replace(secret, "***")
    return text


def audit(
    cur: DuckDBPyConnection,
    ts: datetime,
    actor: str,
    action: str,
    phase: str,
    target: str,
    reason: str | None,
    params: Any,
    result: Any,
) -> None:
    """One audit row; `actor` is an `identity.Actor` or a name claimed by this process's account."""
    from console.store.audit import write_audit

    write_audit(
        cur,
        ts=ts,
        actor=actor,
        action=action,
        phase=phase,
        target=target,
        reason=reason,
        params=params,
        result=result,
    )


def brief(output: dict[str, Any]) -> dict[str, Any]:
    """Output trimmed for the timeline: first rows, tail of stdout/stderr."""
    short = dict(output)
    if "rows" in short:
        short["rows"] = short["rows"][:20]
    for name in ("stdout", "stderr"):
        if isinstance(short.get(name), str):
            short[name] = short[name][-4000:]
    return short
