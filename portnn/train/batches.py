"""The training data of one fit on the device: its batches, their shuffled gathers and what
each batch counts for in the epoch's loss."""

from __future__ import annotations

from typing import Any

from ..objectives.weights import RowWeights
from .evaluation import batch_counts
from .sources import CHUNK_BYTES, chunks, row_values

Array = Any


class TrainingData:
    """The training data on the device, its batches, and what each batch counts for in the
    epoch's loss (rows, or their total weight)."""

    streamed = False  # (see portnn.train.streamed.StreamedData)
    steps: Any = None  # StreamedData's

    def __init__(self, X: Array, y: Array, weights: RowWeights | None, batch_size: int | None, shuffle: bool) -> None:
        n = X.shape[0]
        size = n if batch_size is None else min(batch_size, n)
        self.X, self.y, self.weights, self.shuffle, self.n = X, y, weights, shuffle, n
        self.w = None if weights is None else weights.device
        self.batches = [(i, min(i + size, n)) for i in range(0, n, size)]
        self.chunks = chunks(self.batches, row_values(X), CHUNK_BYTES)
        self.fixed_counts = batch_counts(self.batches, weights)

    def counts(self, order: Any) -> list:
        """Each batch's count in the epoch's mean, for the rows taken in ``order``."""
        if order is None or self.weights is None:
            return self.fixed_counts
        return batch_counts(self.batches, self.weights, order)

    def shuffled_steps(self, xp: Any, run: Any, order: Array) -> list:
        # Rows gathered in the shuffled order one chunk of batches (about 1 MB) at a time, as
        # they are needed: no epoch-long copy of the training set, and the rows are still in
        # cache when the batch's product reads them.
        outs: list = []
        for start, stop, local in self.chunks:
            rows = order[start:stop]
            Xc, yc = xp.take(self.X, rows, axis=0), xp.take(self.y, rows, axis=0)
            wc = None if self.w is None else xp.take(self.w, rows, axis=0)
            outs += run_steps(run, Xc, yc, wc, local)
        return outs


def run_steps(run: Any, X: Array, y: Array, w: Array | None, ranges: list[tuple[int, int]]) -> list:
    """One training step per row range (the weights passed only when there are weights)."""
    if w is None:
        return [run(X[a:b, ...], y[a:b, ...]) for a, b in ranges]
    return [run(X[a:b, ...], y[a:b, ...], w[a:b, ...]) for a, b in ranges]
