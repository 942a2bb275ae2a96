"""Runs NannyML 0.13.1's CBPE on cases and prints its per-chunk results as JSON.

Run with the NannyML virtualenv's python (its import is slow, so one run takes many cases):
    nannyml_cbpe.py CASES_DIR
CASES_DIR holds NAME.reference.parquet, NAME.analysis.parquet (columns y_pred_proba, y_pred,
y_true, and timestamp when chunking by period) and NAME.json ({"chunk_size": N} or
{"chunk_period": "h"}, "metrics": [...]). The output maps each NAME to {"calibrated": bool,
"chunks": [{"key", "period", "start_index", "end_index", "metrics": {metric: {field: value}}}]}
with NaN as the string "nan".
"""

import json
import logging
import math
import os
import sys
import warnings
from pathlib import Path

os.environ["NML_DISABLE_USAGE_LOGGING"] = "1"  # NannyML reports usage over the network unless told not to

import nannyml as nml
import pandas as pd

FIELDS = (
    "value",
    "sampling_error",
    "realized",
    "upper_confidence_boundary",
    "lower_confidence_boundary",
    "upper_threshold",
    "lower_threshold",
    "alert",
)


def _number(value):
    if value is None:
        return None
    if isinstance(value, bool):
        return value
    value = float(value)
    return value if math.isfinite(value) else repr(value)


def run_case(reference, analysis, spec):
    chunking = {k: spec[k] for k in ("chunk_size", "chunk_period") if k in spec}
    estimator = nml.CBPE(
        y_pred_proba="y_pred_proba",
        y_pred="y_pred",
        y_true="y_true",
        timestamp_column_name="timestamp" if "timestamp" in reference.columns else None,
        problem_type="classification_binary",
        metrics=spec["metrics"],
        **chunking,
    )
    estimator.fit(reference)
    result = estimator.estimate(analysis).to_df()
    chunks = []
    for _, row in result.iterrows():
        chunks.append(
            {
                "key": str(row[("chunk", "key")]),
                "period": row[("chunk", "period")],
                "start_index": int(row[("chunk", "start_index")]),
                "end_index": int(row[("chunk", "end_index")]),
                "metrics": {
                    metric: {field: _number(row[(metric, field)]) for field in FIELDS}
                    for metric in spec["metrics"]
                },
            }
        )
    return {"calibrated": bool(estimator.needs_calibration), "chunks": chunks}


def main(cases_dir):
    warnings.simplefilter("ignore")
    logging.disable(logging.CRITICAL)
    results = {}
    for spec_path in sorted(Path(cases_dir).glob("*.json")):
        name = spec_path.stem
        reference = pd.read_parquet(spec_path.with_name(f"{name}.reference.parquet"))
        analysis = pd.read_parquet(spec_path.with_name(f"{name}.analysis.parquet"))
        results[name] = run_case(reference, analysis, json.loads(spec_path.read_text()))
    json.dump(results, sys.stdout)


if __name__ == "__main__":
    main(sys.argv[1])
