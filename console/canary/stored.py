"""Canary analyses in the store: the `canary_analyses` table and the `oncall_canary_score` series."""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from console.canary.judge import Analysis
    from console.store import Store

SCORE_SERIES = "oncall_canary_score"


def to_json(data: Any) -> str:
    """JSON as orjson writes it: NaN and inf as null, naive times as UTC with `Z`, numpy arrays."""
    import orjson

    option = orjson.OPT_SERIALIZE_NUMPY | orjson.OPT_NAIVE_UTC | orjson.OPT_UTC_Z
    return orjson.dumps(data, option=option, default=str).decode()


@dataclass(frozen=True)
class StoredAnalysis:
    """One stored judgement: its headline columns, the whole analysis (`result`) and the rollback."""

    id: int
    name: str
    model: str
    at: datetime
    baseline_version: str
    canary_version: str
    score: float | None
    verdict: str
    reason: str
    result: dict[str, Any] = field(default_factory=dict)
    rollback: dict[str, Any] | None = None

    def analysis(self) -> Analysis:
        """The stored analysis as the judge gave it, metric by metric."""
        from console.canary.judge import Analysis

        return Analysis.from_dict(self.result)

    def as_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "name": self.name,
            "model": self.model,
            "at": self.at,
            "baseline_version": self.baseline_version,
            "canary_version": self.canary_version,
            "score": self.score,
            "verdict": self.verdict,
            "reason": self.reason,
            "result": self.result,
            "rollback": self.rollback,
        }


def store_analysis(store: Store, analysis: Analysis, *, now: datetime | None = None) -> int:
    """Insert the analysis, then its `oncall_canary_score` sample at the analysis's `at` (NaN
    when nothing was judged); the analysis row's id.  `now` is when it is written (the journal's)."""
    import pyarrow as pa

    from console.store import canonical_labels, ingest_samples

    score = analysis.score
    with store.transaction() as cur:
        cur.execute("SELECT nextval('canary_analysis_id_seq')")
        row = cur.fetchone()
        assert row is not None
        analysis_id = int(row[0])
        cur.execute(
            "INSERT INTO canary_analyses (id, name, model, ts, baseline_version, canary_version, "
            "score, verdict, reason, result) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [
                analysis_id,
                analysis.name,
                analysis.model,
                analysis.at,
                analysis.baseline_version,
                analysis.canary_version,
                score,
                analysis.verdict,
                analysis.reason,
                to_json(analysis.as_dict()),
            ],
        )
    labels = canonical_labels({"canary": analysis.name, "model": analysis.model})
    table = pa.table(
        {
            "name": [SCORE_SERIES],
            "labels": [labels],
            "ts": pa.array([analysis.at], pa.timestamp("us")),
            "value": [math.nan if score is None else float(score)],
        }
    )
    ingest_samples(store, table, now=now)
    return analysis_id


def record_rollback(store: Store, analysis_id: int, rollback: dict[str, Any]) -> None:
    """What the rollback on a fail did (planned, applied, refused, …), on the analysis's row."""
    with store.transaction() as cur:
        cur.execute("UPDATE canary_analyses SET rollback = ? WHERE id = ?", [to_json(rollback), analysis_id])


_COLUMNS = "id, name, model, ts, baseline_version, canary_version, score, verdict, reason, result, rollback"


def _stored(row: tuple[Any, ...]) -> StoredAnalysis:
    id_, name, model, ts, baseline, canary, score, verdict, reason, result, rollback = row
    return StoredAnalysis(
        int(id_),
        name,
        model,
        ts,
        baseline,
        canary,
        score,
        verdict,
        reason,
        result=json.loads(result),
        rollback=json.loads(rollback) if rollback else None,
    )


def latest_analyses(store: Store) -> dict[str, StoredAnalysis]:
    """The newest analysis of each canary (by its `at`, then the order stored), by name."""
    rows = store.query(
        f"SELECT {_COLUMNS} FROM canary_analyses "
        "QUALIFY row_number() OVER (PARTITION BY name ORDER BY ts DESC, id DESC) = 1 ORDER BY name"
    )[1]
    return {row[1]: _stored(row) for row in rows}


def analyses(store: Store, name: str, limit: int = 100) -> list[StoredAnalysis]:
    """A canary's analyses, newest first."""
    rows = store.query(
        f"SELECT {_COLUMNS} FROM canary_analyses WHERE name = ? ORDER BY ts DESC, id DESC LIMIT ?",
        [name, limit],
    )[1]
    return [_stored(row) for row in rows]
