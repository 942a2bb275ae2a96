"""Every chunk's ROC AUC at once is bitwise what one chunk at a time gives."""

from __future__ import annotations

import math

import numpy as np
import pytest

from console.drift.calibration import roc_auc
from console.drift.estimation_auc import estimated_aucs, realized_aucs
from console.drift.estimation_chunks import chunk_order
from console.drift.estimation_metrics import SORTED, Undefined, estimate_roc_auc
from console.drift.estimation_spans import Chunking, Outputs


def _chunks(rows: int, size: int, decimals: int | None, seed: int):
    rng = np.random.default_rng(seed)
    scores = rng.random(rows)
    if decimals is not None:
        scores = scores.round(decimals)
    labels = (rng.random(rows) < scores).astype(np.float64)
    labels[: min(size, rows)] = 1.0  # the first chunk has a single class
    spans = Chunking(size=size).spans(Outputs.of(scores))
    order = chunk_order(scores, spans)
    starts = np.array([c.start for c in spans])
    sizes = np.array([c.stop - c.start for c in spans])
    for chunk in spans:  # each chunk's rows by score, as np.argsort of the chunk orders them
        got = order[chunk.start : chunk.stop] - chunk.start
        np.testing.assert_array_equal(got, np.argsort(scores[chunk.start : chunk.stop]))
    return scores[order], labels[order], spans, starts, sizes


@pytest.mark.parametrize(
    ("rows", "size", "decimals"), [(10_000, 1_000, None), (10_007, 700, None), (5_003, 500, 2)]
)
def test_all_chunks_at_once_are_each_chunk_bitwise(rows: int, size: int, decimals: int | None) -> None:
    scores, labels, spans, starts, sizes = _chunks(rows, size, decimals, rows)
    calibrated = np.sqrt(scores)  # any increasing calibration
    values, failed = estimated_aucs(calibrated, starts, sizes)
    real = realized_aucs(scores, labels, starts, sizes)
    for index, chunk in enumerate(spans):
        rows_of = slice(chunk.start, chunk.stop)
        columns = (calibrated[rows_of], scores[rows_of], scores[rows_of], labels[rows_of])
        assert not failed[index]
        assert values[index] == estimate_roc_auc(columns, SORTED)
        one = labels[rows_of]
        expected = math.nan if one.min() == one.max() else roc_auc(one, scores[rows_of], SORTED)
        assert real[index] == expected or (math.isnan(real[index]) and math.isnan(expected))
    assert math.isnan(real[0])


def test_a_chunk_nannyml_fails_on_is_flagged() -> None:
    calibrated = np.array([0.1, 0.2, 0.3, 0.4, 0.1, 2.0, 0.3, 0.9])  # a calibrated score above 1
    values, failed = estimated_aucs(calibrated, np.array([0, 4]), np.array([4, 4]))
    with pytest.raises(Undefined):
        estimate_roc_auc((calibrated[4:], calibrated[4:], calibrated[4:], None), SORTED)
    assert failed.tolist() == [False, True]
    assert values[0] == estimate_roc_auc((calibrated[:4], calibrated[:4], calibrated[:4], None), SORTED)


def test_counted_cells_of_0_1_predictions_are_the_general_counts_bitwise() -> None:
    from console.drift.estimation_chunks import _cells, _counts

    rng = np.random.default_rng(9)
    calibrated = rng.random(5000)
    predicted = (rng.random(5000) < 0.4).astype(np.float64)
    labels = (rng.random(5000) < calibrated).astype(np.float64)
    labels[:500] = 0.0  # a chunk of one class
    starts, rows = np.arange(0, 5000, 500), np.full(10, 500)
    assert _cells(predicted, calibrated, starts, rows, True) == _cells(
        predicted, calibrated, starts, rows, False
    )
    assert _counts(predicted, labels, starts, rows, True) == _counts(predicted, labels, starts, rows, False)
