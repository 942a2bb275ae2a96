"""Actions that change the world: plan, show the plan, apply it with a reason, audited."""

from console.actions.base import Action, ActionEnv, ActionFailed, ActionRefused, Plan
from console.actions.deploy_hook import HookResult, render_argv, run_deploy_hook
from console.actions.models import Promote, Rollback, SetTag
from console.registry.base import RegistryError
from console.store.audit import audit_denied, write_audit, write_denied

__all__ = [
    "Action",
    "ActionEnv",
    "ActionFailed",
    "ActionRefused",
    "HookResult",
    "Plan",
    "Promote",
    "RegistryError",
    "Rollback",
    "SetTag",
    "audit_denied",
    "render_argv",
    "run_deploy_hook",
    "write_audit",
    "write_denied",
]
