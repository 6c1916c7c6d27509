"""The validation loss and metrics of a data-parallel fit: each rank measures its share of the
validation rows and the ranks' parts merge into the figures of all the rows.

Arrays, in memory or streamed (:class:`portnn.train.sources.Rows`), are split in contiguous shares
(:func:`portnn.distributed.shares.share`); a rank reads only its share, a chunk at a time where it
is streamed (:func:`portnn.train.evaluation.batch_items`). An iterable of batches is read whole by
every rank, each measuring its share of every batch. A rank's part is the mean over its rows times
what they count for (rows, or weight), and the count; the loss is the parts' sum over the counts'.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import numpy as np

from ..objectives.lossbase import Loss
from ..objectives.weights import RowWeights, rows_count
from ..train.evaluation import batch_items, measured, weighted_mean
from ..train.fitdata import batch_shares
from ..train.sources import Batches, Rows
from .shares import local_metrics, merge_metrics

if TYPE_CHECKING:
    from ..nn.network import Network
    from ..objectives.metricbase import MetricSet

Array = Any
Split = Callable[[int], tuple[int, int]]


def rank_part(
    model: Network, loss: Loss, metric_set: MetricSet | None, validation: tuple, split: Split
) -> tuple[Any, tuple | None]:
    """What this rank sends of validation data ``(X, y, weights)`` (``split(n)``: its rows
    ``lo:hi`` of ``n``): what the ranks must agree on (the rows, per batch for an iterable), and
    its part ``(mean * count, count, metric statistics on the host)``, None without rows."""
    X, y, weights = validation
    if isinstance(X, Batches):
        sizes: list[int] = []
        items = _batch_items(model, loss, X, split, sizes)
        losses, counts, stats = measured(model, loss, metric_set, items)
        if not sizes:  # an exhausted iterable of batches (a one-shot generator asked again)
            raise ValueError("validation_data: gave no batches (a generator is used up after one pass; pass a list)")
        return ("batches", len(sizes), hash(tuple(sizes))), _part(model, metric_set, losses, counts, stats, None)
    lo, hi = split(X.shape[0])
    key = ("rows", tuple(X.shape), tuple(y.shape))
    if hi == lo:
        return key, None
    mine = None if weights is None else RowWeights(weights.host[lo:hi], _rows(weights.device, lo, hi))
    items = batch_items(model, loss, _rows(X, lo, hi), _rows(y, lo, hi), mine)
    count = rows_count(weights, lo, hi)
    return key, _part(model, metric_set, *measured(model, loss, metric_set, items), count)


def merged(model: Network, metric_set: MetricSet | None, gathered: list) -> dict[str, Array]:
    """The loss and metrics (0-D, on the device) from every rank's :func:`rank_part`, in rank
    order (every rank computes the same numbers); ``ValueError`` where the ranks' data differ."""
    keys = [key for key, _ in gathered]
    if len(set(keys)) > 1:
        raise ValueError(
            f"distributed: the ranks' validation data differ: {dict(enumerate(keys))}; every rank passes the "
            "same validation data (each measures its own share of it)"
        )
    parts = [part for _, part in gathered if part is not None]
    total = sum(p[1] for p in parts)
    loss = sum(p[0] for p in parts) / total if total > 0 else 0.0
    values = {"loss": model.backend.asarray(np.asarray(loss), model.dtype)}
    if metric_set is not None:
        values.update(merge_metrics(model.backend, metric_set, [p[2] for p in parts]))
    return values


def _part(
    model: Network, metric_set: MetricSet | None, losses: list, counts: list, stats: list, count: float | None
) -> tuple | None:
    """A rank's part from its batches' losses, counts and statistics (``count``: what its rows
    count for, None: the batches' counts summed)."""
    if not losses:
        return None
    count = float(sum(counts)) if count is None else count
    host = None if metric_set is None else local_metrics(model.xp, metric_set, stats)
    return model.backend.read(weighted_mean(losses, counts)) * count, count, host


def _batch_items(model: Network, loss: Loss, batches: Batches, split: Split, sizes: list[int]) -> Any:
    """This rank's share of every batch, as :func:`measured` takes them (none where it has no
    rows); every batch's rows appended to ``sizes``."""
    for (rows, lo, hi), _, local, part in batch_shares(model, loss, batches, split):
        sizes.append(rows)
        if hi > lo:
            yield part, local


def _rows(a: Any, lo: int, hi: int) -> Any:
    """Rows ``lo:hi`` of an array on the device (None stays None) or of streamed :class:`Rows`."""
    if a is None:
        return None
    return a.part(lo, hi) if isinstance(a, Rows) else a[lo:hi, ...]
