"""The drift rule family: `DataDrift` per model and column, `DatasetDrift` per model, from the drift series."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from console.drift.stats import DATASET_DRIFT, DRIFT_DETECTED, DRIFT_SCORE, DRIFT_SHARE
from console.rules.model import Rule, sql_str

DRIFT_GROUP = "drift"
FRESH_STEPS = 3  # a verdict older than this many steps no longer holds (the drift source stopped)


def _latest_sql(name: str, models: list[str], fresh_s: float, keys: str) -> str:
    """The newest sample per series of `name` for `models`, within the freshness window."""
    listed = ", ".join(sql_str(m) for m in models)
    return (
        f"SELECT {keys}, x.value FROM samples x JOIN series s ON s.id = x.series_id "
        f"WHERE s.name = {sql_str(name)} AND json_extract_string(s.labels, '$.model') IN ({listed}) "
        f"AND x.ts > {{{{ now }}}} - INTERVAL {int(fresh_s)} SECOND AND x.ts <= {{{{ now }}}} "
        "QUALIFY row_number() OVER (PARTITION BY x.series_id ORDER BY x.ts DESC) = 1"
    )


def column_drift_sql(models: list[str], fresh_s: float) -> str:
    """One row per drifted column (latest verdict 1): model, column, test, value = the score."""
    keys = (
        "json_extract_string(s.labels, '$.model') AS model, json_extract_string(s.labels, '$.column') AS col"
    )
    score_keys = keys + ", json_extract_string(s.labels, '$.test') AS test"
    return (
        f'SELECT d.model, d.col AS "column", sc.test, sc.value '
        f"FROM ({_latest_sql(DRIFT_DETECTED, models, fresh_s, keys)}) d "
        f"JOIN ({_latest_sql(DRIFT_SCORE, models, fresh_s, score_keys)}) sc "
        "ON sc.model = d.model AND sc.col = d.col WHERE d.value >= 1"
    )


def dataset_drift_sql(models: list[str], fresh_s: float) -> str:
    """One row per model whose dataset verdict is drift: value = the drifted share."""
    keys = "json_extract_string(s.labels, '$.model') AS model"
    return (
        f"SELECT d.model, sh.value FROM ({_latest_sql(DATASET_DRIFT, models, fresh_s, keys)}) d "
        f"JOIN ({_latest_sql(DRIFT_SHARE, models, fresh_s, keys)}) sh ON sh.model = d.model "
        "WHERE d.value >= 1"
    )


def drift_rules(workspace: Any) -> list[Rule]:
    """`DataDrift` and `DatasetDrift` for the models of the workspace's enabled drift sources."""
    from console.config.durations import parse_duration
    from console.drift.step import DriftOptions

    rules: list[Rule] = []
    for source in workspace.config.sources:
        if source.kind != "drift" or not source.enabled:
            continue
        options = DriftOptions.model_validate(source.options)  # the workspace loader checked it
        models = [w.model for w in options.windows]
        step = max(parse_duration(options.step), timedelta(seconds=10))
        fresh_s = max(FRESH_STEPS * step.total_seconds(), source.interval.total_seconds() * 2)
        group = f"{DRIFT_GROUP}:{source.name}"
        rules.append(
            Rule(
                "DataDrift",
                column_drift_sql(models, fresh_s),
                group=group,
                interval=step,
                labels={"severity": "ticket"},
                source="drift",
                file=str(workspace.path),
                annotations={
                    "summary": "{{ $labels.column }} of {{ $labels.model }} drifted: "
                    '{{ $labels.test }} {{ printf "%.3f" $value }}',
                    "description": "Run `oncall drift {{ $labels.model }}` or open :drift "
                    "for the reference vs current histograms.",
                },
                templates="go",
            )
        )
        rules.append(
            Rule(
                "DatasetDrift",
                dataset_drift_sql(models, fresh_s),
                group=group,
                interval=step,
                labels={"severity": "ticket"},
                source="drift",
                file=str(workspace.path),
                annotations={
                    "summary": "dataset drift on {{ $labels.model }}: "
                    "{{ humanizePercentage $value }} of columns drifted"
                },
                templates="go",
            )
        )
    return rules
