"""The console's writes: a silence, a rollback or a promotion, each shown as a plan to confirm."""

from __future__ import annotations

from typing import TYPE_CHECKING

from textual import work

from console.tui.screens.modals import Confirmation, PlanModal, SilenceModal, SilenceRequest
from console.tui.views.alerts import AlertsView
from console.tui.views.models import ModelsView

if TYPE_CHECKING:
    from textual.app import App

    from console.actions import Action, Plan
    from console.runtime.session import Session
    from console.screens.overview import AlertRow
    from console.tui.views.base import View

    _App = App[None]
else:
    _App = object


class ConsoleActions(_App):
    """The console app's half that acts (its `session`, `view` and `refresh_view`)."""

    session: Session

    if TYPE_CHECKING:

        @property
        def view(self) -> View: ...

        def refresh_view(self) -> None: ...

    def action_silence(self) -> None:
        fingerprint = self.view.selected_alert() if isinstance(self.view, AlertsView) else None
        alert = next((a for a in (self.view.data or []) if a.fingerprint == fingerprint), None)
        if alert is not None:
            self.silence_alert(alert)

    def silence_alert(self, alert: AlertRow) -> None:
        if not self.session.owner:
            self.notify("read-only snapshot: silence from the console that owns the store", severity="error")
            return
        labels = {k: x for k, x in alert.labels.items()}
        text = ", ".join(f'{k}="{x}"' for k, x in sorted(labels.items()))

        def done(request: SilenceRequest | None) -> None:
            if request is not None:
                self._create_silence(labels, request)

        self.push_screen(SilenceModal(f"{{{text}}}"), done)

    @work(thread=True, group="action", exit_on_error=False)
    def _create_silence(self, labels: dict[str, str], request: SilenceRequest) -> None:
        from console.alerts.silences import create_silence
        from console.config.durations import parse_duration
        from console.rules.matchers import Matcher

        now = self.session.clock()
        try:
            silence = create_silence(
                self.session.store,
                [Matcher(k, x) for k, x in sorted(labels.items())],
                now,
                now + parse_duration(request.duration),
                created_by=self.session.actor,
                comment=request.comment,
                now=now,
            )
        except Exception as exc:  # noqa: BLE001 - the action failed: said to the user, the console goes on
            self.call_from_thread(self.notify, f"silence failed: {exc}", severity="error", markup=False)
            return
        self.call_from_thread(self.notify, f"silence {silence.id} until {silence.ends_at:%H:%M} UTC")
        self.call_from_thread(self.refresh_view)

    def action_rollback(self) -> None:
        selected = self.query_one(ModelsView).selected()
        if selected:
            self._plan_action("rollback", selected[0], None)

    def action_promote(self) -> None:
        selected = self.query_one(ModelsView).selected()
        if selected:
            self._plan_action("promote", selected[0], selected[1])

    @work(thread=True, group="action", exit_on_error=False)
    def _plan_action(self, kind: str, model: str, version: str | None) -> None:
        from console.actions import Promote, Rollback

        try:
            env = self.session.action_env()
            action: Action
            if kind == "rollback":
                action = Rollback(env, model)
            else:
                assert version is not None  # a promotion names the version it promotes
                action = Promote(env, model, version)
            plan = action.plan()
        except Exception as exc:  # noqa: BLE001 - the action failed: said to the user, the console goes on
            self.call_from_thread(self.notify, f"{kind}: {exc}", severity="error", markup=False)
            return
        self.call_from_thread(self._confirm, action, plan)

    def _confirm(self, action: Action, plan: Plan) -> None:
        def done(confirmation: Confirmation | None) -> None:
            if confirmation is not None:
                self._apply(action, plan, confirmation)

        self.push_screen(
            PlanModal(
                f"{plan.action}: {plan.model}",
                plan.text(),
                protected_name=plan.model if plan.protected else None,
            ),
            done,
        )

    @work(thread=True, group="action", exit_on_error=False)
    def _apply(self, action: Action, plan: Plan, confirmation: Confirmation) -> None:
        try:
            action.apply(plan, reason=confirmation.reason, typed_name=confirmation.typed_name)
        except Exception as exc:  # noqa: BLE001 - the action failed: said to the user, the console goes on
            self.call_from_thread(self.notify, str(exc), severity="error", timeout=10, markup=False)
            return
        self.call_from_thread(self.notify, f"{plan.summary} — done", timeout=8, markup=False)
        self.call_from_thread(self.refresh_view)
