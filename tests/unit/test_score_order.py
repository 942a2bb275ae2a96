"""Rows by score from the scores' bits: `np.argsort`'s order wherever the scores are distinct."""

from __future__ import annotations

import numpy as np

from console.drift.estimation_spans import Chunking, Outputs
from console.drift.score_order import chunks_in_order, distinct_order


def test_distinct_scores_come_in_argsorts_order_even_where_only_low_bits_differ() -> None:
    rng = np.random.default_rng(3)
    scores = rng.random(200_000)
    close = scores[:5000] + np.spacing(scores[:5000]) * rng.integers(1, 900, 5000)  # same high bits
    scores = np.concatenate((scores, close, [0.0, np.inf, 1e-300]))
    rng.shuffle(scores)
    assert np.unique(scores).size == scores.size
    found = distinct_order(scores)
    assert found is not None
    np.testing.assert_array_equal(found[0], np.argsort(scores))
    np.testing.assert_array_equal(found[1], np.sort(scores))


def test_equal_negative_or_missing_scores_are_left_to_argsort() -> None:
    scores = np.random.default_rng(4).random(1000)
    for bad in (scores[0], -0.5, -0.0, np.nan):
        assert distinct_order(np.append(scores, bad)) is None
    assert distinct_order(np.append(scores, 0.0)) is not None


def test_each_chunk_in_score_order() -> None:
    scores = np.random.default_rng(5).random(10_007)
    spans = Chunking(size=1000).spans(Outputs.of(scores))
    rows = chunks_in_order(np.argsort(scores), spans, scores.size)
    for chunk in spans:
        np.testing.assert_array_equal(
            rows[chunk.start : chunk.stop], np.argsort(scores[chunk.start : chunk.stop]) + chunk.start
        )
