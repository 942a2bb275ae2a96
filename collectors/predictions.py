"""`predictions`: a model's prediction records and late labels from files into the store.

Records (JSON lines, CSV or Parquet) carry id, ts, model, version, the features (a `features`
object, or every other column), prediction and an optional label. Labels may come later in
their own files (id, label, optional ts and model) and are joined to predictions by (model, id).
Each run writes the mean label lag of the labels it joined as `oncall_label_lag_seconds{model}`.
Files already read and unchanged are skipped; re-reading one adds nothing (keys are model + id).
Records of a version named in `shadow_versions` (a shadow scoring the same requests without
serving them) go to `shadow_predictions` instead, keyed by model + id + version.
"""

from __future__ import annotations

import glob
import json
import os
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import pyarrow as pa
from pydantic import BeforeValidator, Field

from collectors.base import Collector, CollectResult, SourceError, TimedOptions
from collectors.validate import Refusals, Window, check, timestamps

if TYPE_CHECKING:
    from duckdb import DuckDBPyConnection

    from console.store import Store

LABEL_LAG = "oncall_label_lag_seconds"
RECORD_FIELDS = ("id", "ts", "model", "version", "features", "prediction", "label")
SUFFIXES = {".jsonl": "json", ".ndjson": "json", ".json": "json", ".csv": "csv", ".parquet": "parquet"}


def _version_text(value: Any) -> Any:
    """`shadow_versions: [5]` names version "5": versions are text, as records carry them."""
    return str(value) if isinstance(value, int) and not isinstance(value, bool) else value


class PredictionsOptions(TimedOptions):
    path: str = Field(min_length=1, description="prediction files: a path or glob, relative to the workspace")
    labels: str | None = Field(default=None, description="label files: a path or glob (id, label, ts, model)")
    model: str | None = Field(default=None, description="the model name for records that carry none")
    shadow_versions: list[Annotated[str, BeforeValidator(_version_text)]] = Field(
        default_factory=list,
        description="versions whose records are a shadow's (same requests, not served): stored "
        "apart in shadow_predictions for `oncall canary shadow`, out of the served model's drift",
    )


def read_records(path: Path) -> Any:
    """One file as a DataFrame; a SourceError naming the file when it cannot be read."""
    import pandas as pd

    kind = SUFFIXES.get(path.suffix.lower())
    if kind is None:
        raise SourceError(f"{path}: unknown file type {path.suffix!r}; use .jsonl, .csv or .parquet")
    try:
        if kind == "csv":
            return pd.read_csv(path)
        if kind == "parquet":
            return pd.read_parquet(path)
        return pd.read_json(path, lines=True, dtype=False)
    except pd.errors.EmptyDataError:
        return pd.DataFrame()
    except (ValueError, OSError) as exc:
        raise SourceError(f"{path}: cannot read as {kind}: {str(exc).splitlines()[0]}") from None


def _seconds(values: Any) -> Any:
    """Timestamps (ISO 8601 or epoch seconds) as epoch seconds; NaN where one is not a time."""
    import pandas as pd

    if pd.api.types.is_numeric_dtype(values.dtype) and not pd.api.types.is_bool_dtype(values.dtype):
        return pd.to_numeric(values, errors="coerce").astype("float64")
    parsed = pd.to_datetime(values, utc=True, format="mixed", errors="coerce").dt.as_unit("us")
    micros = parsed.astype("int64").astype("float64")  # in µs: no ns overflow past 2262
    return micros.where(parsed.notna()) / 1e6


def _numbers(frame: Any, column: str) -> tuple[Any, Any]:
    """A column as floats (NaN where absent) and where it was present but not a number."""
    import pandas as pd

    if column not in frame.columns:
        return pd.Series([float("nan")] * len(frame), dtype="float64"), None
    parsed = pd.to_numeric(frame[column], errors="coerce").astype("float64")
    return parsed, (parsed.isna() & frame[column].notna()).to_numpy()


def _kept(frame: Any, stamps: Any, column: str, window: Window, refused: Refusals) -> tuple[Any, Any, Any]:
    """The rows with a timestamp inside the window and a `column` value that parses (the rest
    counted), their epoch seconds as Arrow, and that column as floats."""
    import numpy as np

    values, unparsed = _numbers(frame, column)
    present = None if unparsed is None else pa.array(np.zeros(len(frame)), mask=unparsed)
    keep = check(pa.array(stamps.to_numpy(dtype="float64")), present, window, refused, value=column).to_numpy(
        zero_copy_only=False
    )
    return frame[keep], pa.array(stamps[keep].to_numpy(dtype="float64")), values[keep]


def _models(frame: Any, default: str | None, where: Path) -> Any:
    import pandas as pd

    if "model" in frame.columns:
        models = frame["model"].astype("string")
        if default is not None:
            models = models.fillna(default)
    else:
        models = pd.Series([default] * len(frame), dtype="string")
    if models.isna().any():
        raise SourceError(
            f"{where}: records without a model; add a model column or set the source's model option"
        )
    return models


def _json_text(value: Any) -> str:
    """A features value as JSON text: text is taken as already JSON."""
    return value if isinstance(value, str) else json.dumps(value, default=str)


def _features_json(frame: Any) -> list[str]:
    """Each row's features as a JSON object: the `features` column, or every non-record column."""
    if len(frame) == 0:
        return []
    if "features" in frame.columns:
        return [_json_text(value) for value in frame["features"]]
    rest = frame[[c for c in frame.columns if c not in RECORD_FIELDS]]
    if rest.shape[1] == 0:
        return ["{}"] * len(frame)
    text = rest.to_json(orient="records", lines=True, date_format="iso")
    return text.splitlines()


def prediction_table(
    frame: Any, default_model: str | None, where: Path, window: Window, refused: Refusals
) -> tuple[pa.Table, Any]:
    """Records as the predictions table's columns, those with a timestamp inside the window and
    a prediction that parses (the rest counted), and the records kept; a SourceError naming
    the file when fields are missing."""
    missing = [c for c in ("id", "ts") if c not in frame.columns]
    if missing:
        raise SourceError(f"{where}: missing column(s) {', '.join(missing)}; records need id and ts")
    frame, stamps, values = _kept(frame, _seconds(frame["ts"]), "prediction", window, refused)
    version = frame["version"].astype("string") if "version" in frame.columns else [None] * len(frame)
    return pa.table(
        {
            "model": pa.array(_models(frame, default_model, where), pa.string()),
            "id": pa.array(frame["id"].astype("string"), pa.string()),
            "ts": timestamps(stamps),
            "version": pa.array(version, pa.string()),
            "features": pa.array(_features_json(frame), pa.string()),
            "prediction": pa.array(values, pa.float64(), from_pandas=True),
            "origin": pa.array([str(where)] * len(frame), pa.string()),
        }
    ), frame


def label_table(
    frame: Any, default_model: str | None, where: Path, window: Window, refused: Refusals
) -> pa.Table:
    """Labels as the prediction_labels table's columns; a label without ts became known now.
    Labels whose timestamp is outside the window or that are not numbers are counted, not kept."""
    import pandas as pd

    missing = [c for c in ("id", "label") if c not in frame.columns]
    if missing:
        raise SourceError(f"{where}: missing column(s) {', '.join(missing)}; labels need id and label")
    frame = frame[frame["label"].notna()].reset_index(drop=True)
    stamps = (
        _seconds(frame["ts"])
        if "ts" in frame.columns
        else pd.Series([window.now] * len(frame), dtype="float64")
    )
    frame, stamps, values = _kept(frame, stamps, "label", window, refused)
    return pa.table(
        {
            "model": pa.array(_models(frame, default_model, where), pa.string()),
            "id": pa.array(frame["id"].astype("string"), pa.string()),
            "label": pa.array(values, pa.float64(), from_pandas=True),
            "ts": timestamps(stamps),
        }
    )


class PredictionsCollector(Collector):
    """Reads prediction and label files that are new or changed since the last run."""

    kind = "predictions"
    Options = PredictionsOptions
    options: PredictionsOptions
    retention_kind = None  # predictions are not aged out: accept.past defaults to 10 years

    def _files(self, pattern: str | None) -> list[Path]:
        if not pattern:
            return []
        full = pattern if os.path.isabs(pattern) else os.path.join(self.base_dir, pattern)
        return [Path(p) for p in sorted(glob.glob(full)) if os.path.isfile(p)]

    def collect(self, store: Store, now: datetime) -> CollectResult:
        seen: dict[str, list[int]] = (store.get_cursor(self.name) or {}).get("files", {})
        predictions, labels, changed = self._read_changed(seen, self.window(now))
        new_predictions = pa.concat_tables(predictions) if predictions else None
        new_labels = pa.concat_tables(labels) if labels else None
        cursor = {"files": {**seen, **changed}}
        new_predictions, new_shadow = _split_shadow(new_predictions, self.options.shadow_versions)
        with store.transaction() as cur:
            added = _insert_predictions(cur, new_predictions) + _insert_shadow(cur, new_shadow)
            _insert_labels(cur, new_labels)
            lags = self._lags(cur, new_predictions is not None, new_labels is not None)
            store.set_cursor(cur, self.name, cursor, added, now)
        if lags:
            _record_lags(store, now, lags)
        return CollectResult(
            rows=added,
            detail={"files": len(changed), "labels": 0 if new_labels is None else new_labels.num_rows},
        )

    def _read_changed(
        self, seen: dict[str, list[int]], window: Window
    ) -> tuple[list[pa.Table], list[pa.Table], dict[str, list[int]]]:
        """Tables from the files new or changed since `seen`, and those files' signatures."""
        predictions: list[pa.Table] = []
        labels: list[pa.Table] = []
        changed: dict[str, list[int]] = {}
        for kind, pattern in (("p", self.options.path), ("l", self.options.labels)):
            for path in self._files(pattern):
                stat = path.stat()
                signature = [stat.st_size, stat.st_mtime_ns]
                if seen.get(str(path)) == signature:
                    continue
                frame = read_records(path)
                changed[str(path)] = signature
                if len(frame) == 0:
                    continue
                if kind == "p":
                    self._read_predictions(frame, path, window, predictions, labels)
                else:
                    labels.append(label_table(frame, self.options.model, path, window, self.refused))
        return predictions, labels, changed

    def _read_predictions(
        self, frame: Any, path: Path, window: Window, predictions: list[pa.Table], labels: list[pa.Table]
    ) -> None:
        """A predictions file's table, and the labels its kept records carry (counted once)."""
        table, kept = prediction_table(frame, self.options.model, path, window, self.refused)
        predictions.append(table)
        if "label" in kept.columns:
            inline = kept[["id", "label", "ts"] + (["model"] if "model" in kept.columns else [])]
            labels.append(label_table(inline, self.options.model, path, window, self.refused))

    @staticmethod
    def _lags(cur: DuckDBPyConnection, had_predictions: bool, had_labels: bool) -> list[tuple[str, float]]:
        """Mean seconds from prediction to label, per model, over the pairs this run completed."""
        keys = []
        if had_predictions:
            keys.append("SELECT model, id FROM incoming_predictions")
        if had_labels:
            keys.append("SELECT model, id FROM incoming_labels")
        if not keys:
            return []
        return cur.execute(
            f"""
            SELECT p.model, avg(epoch(l.ts) - epoch(p.ts))
            FROM ({" UNION ".join(keys)}) k
            JOIN predictions p ON p.model = k.model AND p.id = k.id
            JOIN prediction_labels l ON l.model = k.model AND l.id = k.id
            GROUP BY p.model ORDER BY p.model
            """
        ).fetchall()


def _insert_predictions(cur: DuckDBPyConnection, table: pa.Table | None) -> int:
    """The number of predictions added (a record already stored adds nothing)."""
    if table is None:
        return 0
    cur.register("incoming_predictions", table)
    return cur.execute(
        "INSERT INTO predictions SELECT * FROM incoming_predictions ON CONFLICT DO NOTHING"
    ).fetchall()[0][0]


def _split_shadow(table: pa.Table | None, versions: list[str]) -> tuple[pa.Table | None, pa.Table | None]:
    """The served records and the shadow versions' records (None where there are none)."""
    import pyarrow.compute as pc

    if table is None or not versions:
        return table, None
    shadow = pc.fill_null(pc.is_in(table.column("version"), value_set=pa.array(versions, pa.string())), False)
    served, apart = table.filter(pc.invert(shadow)), table.filter(shadow)
    return (served if served.num_rows else None), (apart if apart.num_rows else None)


def _insert_shadow(cur: DuckDBPyConnection, table: pa.Table | None) -> int:
    """The number of shadow records added (one already stored for that model, id and version adds nothing)."""
    if table is None:
        return 0
    cur.register("incoming_shadow", table)
    try:
        return cur.execute(
            "INSERT INTO shadow_predictions (model, id, version, ts, features, prediction, origin) "
            "SELECT model, id, version, ts, features, prediction, origin FROM incoming_shadow "
            "ON CONFLICT DO NOTHING"
        ).fetchall()[0][0]
    finally:
        cur.unregister("incoming_shadow")


def _insert_labels(cur: DuckDBPyConnection, table: pa.Table | None) -> None:
    if table is None:
        return
    cur.register("incoming_labels", table)
    cur.execute(
        "INSERT INTO prediction_labels SELECT model, id, label, ts FROM incoming_labels ON CONFLICT DO NOTHING"
    ).fetchall()


def _record_lags(store: Store, now: datetime, lags: list[tuple[str, float]]) -> None:
    from console.store import canonical_labels, ingest_samples

    ingest_samples(
        store,
        pa.table(
            {
                "name": [LABEL_LAG] * len(lags),
                "labels": [canonical_labels({"model": model}) for model, _ in lags],
                "ts": pa.array([now] * len(lags), pa.timestamp("us")),
                "value": [float(lag) for _, lag in lags],
            }
        ),
    )
