"""The pieces of a data-parallel step that need no communication: which rows a rank takes, the
loss scaled by its share, and metrics' statistics merged over the ranks."""

from __future__ import annotations

from typing import Any

import numpy as np

from .._xp import to_numpy
from ..objectives.lossbase import Loss

Array = Any


def share(n: int, size: int, rank: int) -> tuple[int, int]:
    """Rows ``lo:hi`` of ``n`` that rank ``rank`` of ``size`` takes: consecutive shares, the first
    ``n % size`` ranks one row more (a rank gets none when ``n < size``).

    >>> [share(5, 3, r) for r in range(3)], share(1, 2, 1)
    ([(0, 2), (2, 4), (4, 5)], (1, 1))
    """
    base, extra = divmod(n, size)
    lo = rank * base + min(rank, extra)
    return lo, lo + base + (rank < extra)


class ScaledLoss(Loss):
    """``loss`` times ``scale`` (this rank's share of the global batch), value and gradient; a
    rank without rows (``empty``) contributes zero. ``value`` keeps the last scaled value, which
    the gradient reduction sums with the gradients.

    >>> import numpy as np, portnn as pn
    >>> scaled = ScaledLoss(pn.losses.MSE())
    >>> scaled.scale = 0.25
    >>> value, grad = scaled.value_and_grad(np, np.array([[1.0], [3.0]]), np.zeros((2, 1)))
    >>> float(value), grad.ravel().tolist()
    (1.25, [0.25, 0.75])
    """

    def __init__(self, loss: Loss) -> None:
        self.inner, self.scale, self.empty = loss, 1.0, False
        self.value: Array = None

    def value_and_grad(self, xp: Any, pred: Array, target: Array, weight: Array | None = None) -> tuple[Array, Array]:
        if self.empty:  # a mean over no rows is 0/0: this rank adds nothing instead
            value, grad = xp.sum(pred), xp.zeros_like(pred)
        else:
            inner = self.inner
            value, grad = (
                inner.value_and_grad(xp, pred, target)
                if weight is None
                else inner.value_and_grad(xp, pred, target, weight)
            )
            value, grad = value * self.scale, grad * self.scale
        self.value = value
        return value, grad


def local_metrics(xp: Any, metric_set: Any, observed: list) -> list | None:
    """This rank's statistics of each metric over its steps (``observed``: per step, per metric),
    combined on the device and read to the host; ``None`` when it trained on no rows."""
    if not observed:
        return None
    out = []
    for i, metric in enumerate(metric_set.metrics):
        parts = [step[i] for step in observed]
        stats = parts[0] if len(parts) == 1 else metric.combine(xp, tuple(xp.stack(s) for s in zip(*parts)))
        out.append(tuple(to_numpy(a) for a in stats))
    return out


def merge_metrics(backend: Any, metric_set: Any, ranks: list) -> dict[str, Array]:
    """Each metric's value (0-D, on ``backend``) from the ranks' host statistics (in rank order:
    every rank computes the same numbers)."""
    xp, out = backend.xp, {}
    for i, (name, metric) in enumerate(zip(metric_set.names, metric_set.metrics)):
        stacked = tuple(backend.asarray(np.stack(s)) for s in zip(*(rank[i] for rank in ranks)))
        out[name] = metric.compute(xp, metric.combine(xp, stacked))
    return out
