"""Runs Evidently 0.7 on one case and prints its per-column drift verdicts as JSON.

Run with the Evidently virtualenv's python (its import is slow, so one run takes many cases):
    evidently_drift.py CASES_DIR
CASES_DIR holds NAME.reference.parquet, NAME.current.parquet and NAME.json for each case; the
output maps each NAME to its result. NAME.json holds {"kinds": {col: "num"|"cat"}, "methods": {col: name}, "thresholds": {col: x},
"drift_share": 0.5, "dataset": true}. A column Evidently refuses (e.g. empty after cleaning) gets "error".
Numpy's global generator is seeded with 0 before each column: Evidently's empirical MMD draws its
permutations from it unseeded, and we draw the same ones from RandomState(0). "dataset": false
skips the dataset verdict (cases that only compare columns).
"""

import json
import math
import sys
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
from evidently.legacy.metrics import DataDriftTable, DatasetDriftMetric
from evidently.legacy.pipeline.column_mapping import ColumnMapping
from evidently.legacy.report import Report


def _number(value):
    value = float(value)
    return value if math.isfinite(value) else repr(value)


def run_case(reference, current, spec):
    kinds = spec["kinds"]
    methods = spec.get("methods", {})
    thresholds = spec.get("thresholds", {})
    mapping = ColumnMapping(
        target=None,
        prediction=None,
        datetime=None,
        id=None,
        numerical_features=[c for c, k in kinds.items() if k == "num"],
        categorical_features=[c for c, k in kinds.items() if k == "cat"],
    )
    columns, accepted = {}, []
    for column in kinds:
        report = Report(
            metrics=[
                DataDriftTable(
                    columns=[column],
                    per_column_stattest={column: methods[column]} if column in methods else None,
                    per_column_stattest_threshold={column: thresholds[column]}
                    if column in thresholds
                    else None,
                )
            ]
        )
        try:
            np.random.seed(0)
            report.run(reference_data=reference, current_data=current, column_mapping=mapping)
            result = report.as_dict()["metrics"][0]["result"]["drift_by_columns"][column]
        except Exception as exc:  # noqa: BLE001 - recorded per column: Evidently refuses empty columns (ValueError)
            columns[column] = {"error": f"{type(exc).__name__}: {exc}"}
            continue
        accepted.append(column)
        columns[column] = {
            "method": result["stattest_name"],
            "score": _number(result["drift_score"]),
            "threshold": _number(result["stattest_threshold"]),
            "drifted": bool(result["drift_detected"]),
        }
    dataset = None
    if accepted and spec.get("dataset", True):
        report = Report(
            metrics=[
                DatasetDriftMetric(
                    columns=accepted,
                    drift_share=spec.get("drift_share", 0.5),
                    per_column_stattest={c: m for c, m in methods.items() if c in accepted} or None,
                    per_column_stattest_threshold={c: t for c, t in thresholds.items() if c in accepted}
                    or None,
                )
            ]
        )
        report.run(reference_data=reference, current_data=current, column_mapping=mapping)
        result = report.as_dict()["metrics"][0]["result"]
        dataset = {
            "share": result["share_of_drifted_columns"],
            "drifted": result["dataset_drift"],
            "drifted_columns": result["number_of_drifted_columns"],
        }
    return {"columns": columns, "dataset": dataset}


def main(cases_dir):
    warnings.simplefilter("ignore")
    results = {}
    for spec_path in sorted(Path(cases_dir).glob("*.json")):
        name = spec_path.stem
        reference = pd.read_parquet(spec_path.with_name(f"{name}.reference.parquet"))
        current = pd.read_parquet(spec_path.with_name(f"{name}.current.parquet"))
        results[name] = run_case(reference, current, json.loads(spec_path.read_text()))
    json.dump(results, sys.stdout)


if __name__ == "__main__":
    main(sys.argv[1])
