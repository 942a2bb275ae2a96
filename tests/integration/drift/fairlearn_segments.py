"""Runs Fairlearn's MetricFrame on each case and prints its numbers as JSON.

Run with the Fairlearn virtualenv's python (tests/setup/fairlearn.sh):
    fairlearn_segments.py CASES_DIR
CASES_DIR holds NAME.parquet (the grouping columns, `prediction` and `label`; rows without a label
are left out here, as the console leaves them out) and NAME.json ({"by": [...], "threshold": 0.5}).
The output maps each NAME to {"groups": [{"values": [...], metric: value}], "overall": {...},
"fairness": {...}}, group values as text, a NaN as "nan".
"""

import json
import math
import sys
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
from fairlearn.metrics import (
    MetricFrame,
    count,
    demographic_parity_difference,
    demographic_parity_ratio,
    equalized_odds_difference,
    equalized_odds_ratio,
    false_positive_rate,
    selection_rate,
    true_positive_rate,
)
from sklearn.metrics import accuracy_score, precision_score

METRICS = {
    "count": count,
    "selection_rate": selection_rate,
    "tpr": true_positive_rate,
    "fpr": false_positive_rate,
    "accuracy": accuracy_score,
    "precision": precision_score,
}
FAIRNESS = {
    "demographic_parity_difference": demographic_parity_difference,
    "demographic_parity_ratio": demographic_parity_ratio,
    "equalized_odds_difference": equalized_odds_difference,
    "equalized_odds_ratio": equalized_odds_ratio,
}


def _number(value):
    value = float(value)
    return value if math.isfinite(value) else repr(value)


def run_case(frame, spec):
    frame = frame[frame["label"].notna()]
    y_true = frame["label"].astype(int).to_numpy()
    y_pred = (frame["prediction"].to_numpy() >= spec["threshold"]).astype(int)
    sensitive = frame[spec["by"]]  # numbers stay numbers: Fairlearn (pandas) sorts them as numbers
    mf = MetricFrame(metrics=METRICS, y_true=y_true, y_pred=y_pred, sensitive_features=sensitive)
    by_group = mf.by_group
    groups = []
    for key, row in by_group.iterrows():
        values = list(key) if isinstance(key, tuple) else [key]
        groups.append({"values": [str(v) for v in values], **{m: _number(row[m]) for m in METRICS}})
    fairness = {
        name: _number(function(y_true, y_pred, sensitive_features=sensitive))
        for name, function in FAIRNESS.items()
    }
    overall = {m: _number(mf.overall[m]) for m in METRICS}
    return {"groups": groups, "overall": overall, "fairness": fairness}


def main(folder):
    results = {}
    for spec_path in sorted(Path(folder).glob("*.json")):
        name = spec_path.name[: -len(".json")]
        spec = json.loads(spec_path.read_text())
        frame = pd.read_parquet(Path(folder) / f"{name}.parquet")
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # precision's zero-division warning: the value is the point
            results[name] = run_case(frame, spec)
    print(json.dumps(results))


if __name__ == "__main__":
    np.seterr(all="ignore")
    main(sys.argv[1])
