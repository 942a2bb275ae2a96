"""Runs Evidently 0.7's DataDriftTable with global, per-kind and per-column tests and thresholds.

Run with the Evidently virtualenv's python:  evidently_cli.py CASES_DIR
CASES_DIR holds NAME.reference.parquet, NAME.current.parquet and NAME.json for each case:
{"kinds": {col: "num"|"cat"}, "id": col or null, "options": {DataDriftTable keyword: value},
"drift_share": x}. The output maps each NAME to {"columns": {col: verdict}, "dataset": verdict}.
"""

import json
import math
import sys
import warnings
from pathlib import Path

import pandas as pd
from evidently.legacy.metrics import DataDriftTable, DatasetDriftMetric
from evidently.legacy.pipeline.column_mapping import ColumnMapping
from evidently.legacy.report import Report


def _number(value):
    value = float(value)
    return value if math.isfinite(value) else repr(value)


def run_case(reference, current, spec):
    kinds = spec["kinds"]
    mapping = ColumnMapping(
        target=None,
        prediction=None,
        datetime=None,
        id=spec.get("id"),
        numerical_features=[c for c, k in kinds.items() if k == "num"],
        categorical_features=[c for c, k in kinds.items() if k == "cat"],
    )
    options = spec.get("options", {})
    report = Report(
        metrics=[DataDriftTable(**options), DatasetDriftMetric(drift_share=spec["drift_share"], **options)]
    )
    report.run(reference_data=reference, current_data=current, column_mapping=mapping)
    result, verdict = (m["result"] for m in report.as_dict()["metrics"])
    columns = {
        name: {
            "method": column["stattest_name"],
            "score": _number(column["drift_score"]),
            "threshold": _number(column["stattest_threshold"]),
            "drifted": bool(column["drift_detected"]),
        }
        for name, column in result["drift_by_columns"].items()
    }
    dataset = {
        "share": verdict["share_of_drifted_columns"],
        "drifted": verdict["dataset_drift"],
        "drifted_columns": verdict["number_of_drifted_columns"],
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
