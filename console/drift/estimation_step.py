"""`estimation`: CBPE of each configured model on the stored predictions, written as series.

Beside the `drift` source: at each `step` boundary it fits on the model's reference (refitted
only when the reference's rows or labels changed) and writes the latest analysis chunk's
estimates as `oncall_estimated_{roc_auc,f1,precision,recall,accuracy}{model}` with `_lower` and
`_upper` bands, `oncall_estimated_alert{model,metric}` and realized values where labels arrived
(`console.drift.estimation_window.estimation_samples`), so SLOs and alert rules read them.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any

from console.drift.estimation_window import EstimationOptions
from console.drift.step import StepCollector

if TYPE_CHECKING:
    from console.store import Store


class EstimationCollector(StepCollector):
    """Estimates each model at every step boundary it has not estimated yet (the latest one only)."""

    kind = "estimation"
    detail = "estimated_alerts"
    Options = EstimationOptions
    options: EstimationOptions

    def _evaluate(self, store: Store, at: datetime) -> tuple[list[Any], list[str], list[str]]:
        """Every model at `at`: sample tables, the models that failed (why), the models with an alert now."""
        from console.drift.estimation import EstimationError
        from console.drift.estimation_window import estimation_samples, evaluate_spec

        tables, failures, alerting = [], [], []
        for spec in self.options.models:
            try:
                result = evaluate_spec(store, spec, at, self.base_dir)
            except EstimationError as exc:
                failures.append(f"{spec.model}: {exc}")
                continue
            tables.append(estimation_samples(result, at))
            if result.chunks and any(m.alert for m in result.chunks[-1].metrics.values()):
                alerting.append(spec.model)
        return tables, failures, alerting
