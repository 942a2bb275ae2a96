"""NannyML's expected calibration error (ECE): 10 equal-count bins over the rows sorted by score,
each bin's share times the gap between its mean score and its mean label.

`expected_calibration_error` computes it as NannyML does, step by step. `Runs.bounds` gives an
interval that holds it without sorting rows: from the rows grouped by equal score (a run), each
run's size and positives. Only the rows of a run cut by a bin edge can fall either side of it
(NannyML's argsort puts equal scores in an order of its own), so a bin's positives are known
up to those: the interval is what any such order can give.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from console.drift.calibration_splits import CalibrationError

ECE_BINS = 10


def bin_edges(length: int, bins: int = ECE_BINS) -> list[tuple[int, int]]:
    """NannyML's `_get_bin_index_edges`: equal-count bins over a sorted vector, the last one longer."""
    if length <= 2 * bins:
        bins = length // 2
        if bins < 2:
            raise CalibrationError(f"the reference has too few rows ({length} tested) to test calibration")
    width = length // bins
    edges = np.asarray(range(0, length + 1, width))
    edges[-1] = length
    return list(zip(edges[:-1].tolist(), edges[1:].tolist(), strict=True))


def expected_calibration_error(labels: np.ndarray, scores: np.ndarray, edges: list[tuple[int, int]]) -> float:
    """NannyML's `_calculate_expected_calibration_error`: the rows sorted by `np.argsort` of the scores."""
    order = scores.argsort()
    return sorted_calibration_error(labels[order], scores[order], edges)


def sorted_calibration_error(labels: np.ndarray, scores: np.ndarray, edges: list[tuple[int, int]]) -> float:
    """The expected calibration error of scores sorted ascending and their labels."""
    terms = [
        (right - left) / scores.size * abs(np.mean(scores[left:right]) - np.mean(labels[left:right]))
        for left, right in edges
    ]
    return float(np.sum(terms))


@dataclass(frozen=True)
class Runs:
    """Rows grouped by equal score, in ascending order of score: each run's score, rows and positives."""

    scores: np.ndarray  # float64, ascending, distinct
    rows: np.ndarray  # int64 (a run of no rows counts for nothing)
    positives: np.ndarray  # int64

    @classmethod
    def of_sorted(cls, scores: np.ndarray, rows: np.ndarray, positives: np.ndarray) -> Runs:
        """Runs from ascending scores (equal ones next to each other) with their rows and positives."""
        if scores.size == 0:
            return cls(scores, rows, positives)
        starts = np.flatnonzero(np.concatenate(([True], scores[1:] != scores[:-1])))
        if starts.size == scores.size:
            return cls(scores, rows, positives)
        return cls(scores[starts], np.add.reduceat(rows, starts), np.add.reduceat(positives, starts))

    @classmethod
    def merged(cls, parts: list[Runs]) -> Runs:
        """The runs of the rows of all `parts` together (equal scores of different parts: one run)."""
        scores = np.concatenate([p.scores for p in parts])
        order = np.argsort(scores, kind="stable")
        return cls.of_sorted(
            scores[order],
            np.concatenate([p.rows for p in parts])[order],
            np.concatenate([p.positives for p in parts])[order],
        )

    def bounds(self, edges: list[tuple[int, int]]) -> tuple[float, float]:
        """The least and the greatest ECE that the rows' order within runs can give (each bound
        computed to within a few units in the last place)."""
        ends = np.cumsum(self.rows)
        before = np.concatenate(([0], np.cumsum(self.positives)))  # positives of the runs before each
        weighted = self.scores * self.rows
        total = int(ends[-1])
        least = most = 0.0
        for left, right in edges:
            first, last = np.searchsorted(ends, (left, right - 1), side="right").tolist()
            if first == last:  # one run holds the whole bin
                score_sum = float(self.scores[first]) * (right - left)
                low, high = self._positives(first, right - left)
            else:  # part of the first run, whole runs, part of the last run
                head, tail = int(ends[first]) - left, right - int(ends[last - 1])
                score_sum = (
                    float(self.scores[first]) * head
                    + float(np.sum(weighted[first + 1 : last]))
                    + float(self.scores[last]) * tail
                )
                known = int(before[last] - before[first + 1])
                head_low, head_high = self._positives(first, head)
                tail_low, tail_high = self._positives(last, tail)
                low, high = known + head_low + tail_low, known + head_high + tail_high
            rows = right - left
            mean = score_sum / rows
            share = rows / total
            least += share * max(0.0, low / rows - mean, mean - high / rows)
            most += share * max(abs(mean - low / rows), abs(mean - high / rows))
        return least, most

    def _positives(self, run: int, rows: int) -> tuple[int, int]:
        """The fewest and the most positives that `rows` of the run's rows can hold."""
        positives = int(self.positives[run])
        return max(0, rows - (int(self.rows[run]) - positives)), min(rows, positives)
