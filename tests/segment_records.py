"""Labelled prediction records written straight into a store, for the segment tests."""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from typing import Any

import pandas as pd

from console.store import Store


def store_records(
    store: Store,
    model: str,
    frame: pd.DataFrame,
    features: list[str],
    *,
    start: datetime,
    label_lag: timedelta = timedelta(minutes=1),
    fields: dict[str, Any] | None = None,
) -> None:
    """One record a row (a second apart from `start`) with `features` as its features JSON, the
    `prediction` column as its prediction and the `label` column (NaN/None: no label) as its label,
    known `label_lag` after the record. `fields`: record fields (version, origin) column names."""
    fields = fields or {}
    ids = [f"{model}-{start:%Y%m%dT%H%M%S}-{i}" for i in range(len(frame))]
    times = [start + timedelta(seconds=i) for i in range(len(frame))]
    records = pd.DataFrame(
        {
            "model": model,
            "id": ids,
            "ts": times,
            "version": frame[fields["version"]].astype(object) if "version" in fields else None,
            "features": [
                json.dumps({name: _plain(row[name]) for name in features if not _absent(row[name])})
                for _, row in frame.iterrows()
            ],
            "prediction": frame["prediction"].astype("float64"),
            "origin": frame[fields["origin"]].astype(object) if "origin" in fields else None,
        }
    )
    labelled = frame["label"].notna().to_numpy()
    labels = pd.DataFrame(
        {
            "model": model,
            "id": [i for i, keep in zip(ids, labelled, strict=True) if keep],
            "label": frame["label"][labelled].astype("float64").to_numpy(),
            "ts": [t + label_lag for t, keep in zip(times, labelled, strict=True) if keep],
        }
    )
    with store.transaction() as cur:
        cur.register("_records", records)
        cur.register("_labels", labels)
        cur.execute(
            "INSERT INTO predictions SELECT model, id, ts, version, features, prediction, origin FROM _records"
        )
        cur.execute("INSERT INTO prediction_labels SELECT model, id, label, ts FROM _labels")


def install_segments_kind(monkeypatch: Any) -> None:
    """The `segments` collector kind as pyproject.toml declares it, also where the virtualenv was
    installed before the entry point was added (it is found through installed metadata)."""
    from importlib.metadata import EntryPoint

    import console.config.plugins as plugins

    found = plugins.entry_points

    def with_segments(**selection: Any) -> list[EntryPoint]:
        points = list(found(**selection))
        if selection.get("group") == plugins.ENTRY_POINT_GROUP and all(p.name != "segments" for p in points):
            points.append(
                EntryPoint(
                    "segments", "console.drift.segments_step:SegmentsCollector", plugins.ENTRY_POINT_GROUP
                )
            )
        return points

    monkeypatch.setattr(plugins, "entry_points", with_segments)


def _absent(value: Any) -> bool:
    return value is None or (isinstance(value, float) and value != value)


def _plain(value: Any) -> Any:
    return value.item() if hasattr(value, "item") else value
