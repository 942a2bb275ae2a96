"""One `oncall drift` run on two frames: drift of the tested columns and quality, as the plan asks."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from console.cli.commands.drift_options import Plan, resolved
from console.cli.context import CliError

if TYPE_CHECKING:
    from console.drift.quality import QualityReport
    from console.drift.stats import DatasetDrift


@dataclass(frozen=True)
class Analysis:
    drift: DatasetDrift
    quality: QualityReport | None


def analyse(
    plan: Plan,
    reference: Any,
    current: Any,
    *,
    drift_columns: list[str],
    quality_columns: list[str] | None,
    drift_share: float,
    quality_defaults: dict[str, Any] | None = None,
) -> Analysis:
    """Drift of `drift_columns` with the plan's tests and thresholds; quality of `quality_columns`
    (None: no quality checks) with the plan's limits over `quality_defaults`."""
    from console.drift.quality import data_quality
    from console.drift.stats import DriftError, dataset_drift

    tested = [c for c in drift_columns if c not in plan.left_out]
    kinds, methods, thresholds = resolved(plan, reference, current, tested)
    try:
        drift = dataset_drift(
            reference,
            current,
            columns=tested,
            kinds=kinds,
            methods=methods,
            thresholds=thresholds,
            drift_share=drift_share,
        )
    except DriftError as exc:
        raise CliError(str(exc)) from None
    quality = None
    if quality_columns is not None:
        quality = data_quality(
            reference,
            current,
            columns=[c for c in quality_columns if c not in plan.left_out],
            kinds={c: k for c, k in plan.kinds.items() if c not in plan.left_out},
            thresholds=plan.quality_thresholds(**(quality_defaults or {})),
        )
    return Analysis(drift, quality)
