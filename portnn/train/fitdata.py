"""The data of one fit, prepared once: in memory (on the device whole), streamed from a memmap or
array-like (:mod:`portnn.train.streamed`), or an iterable of batches (:class:`BatchesData`); and
the validation data, in any of the same forms."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any

from .. import _checks
from ..objectives.lossbase import Loss
from ..objectives.weights import rows_count
from . import holdout, streamed
from .batches import TrainingData
from .evaluation import prepare, prepare_batch, prepare_weights, prepared_batch
from .sources import Batches, is_batches, is_streamed

if TYPE_CHECKING:
    from ..nn.network import Network


class BatchesData:
    """An iterable of batches as a fit's training data: each batch one step, converted to the
    model's backend and dtype on the way; what each counted for in the epoch's loss is known once
    the epoch has run."""

    streamed, shuffle, w = True, False, None

    def __init__(self, model: Network, loss: Loss, batches: Batches) -> None:
        self.model, self.loss, self.source, self.n = model, loss, batches, 0
        self.batches: list[tuple[int, int]] = []  # not known ahead
        self.last_counts: list = []

    def counts(self, order: Any) -> list:
        """Each batch's count in the epoch's mean: its rows or total weight, in the last epoch."""
        return self.last_counts

    def steps(self, run: Any, order: Any) -> list:
        """One epoch's steps, one per batch."""
        outs, counts, rows = [], [], 0
        for batch in self.source.epoch():
            (Xb, yb, wb), count = prepare_batch(self.model, self.loss, batch)
            outs.append(run(Xb, yb) if wb is None else run(Xb, yb, wb))
            counts.append(count)
            rows += Xb.shape[0]
        if not outs:
            raise ValueError(f"{self.source.name}: the iterable gave no batches")
        self.last_counts, self.n = counts, rows
        return outs

    def rank_parts(self, split: Callable[[int], tuple[int, int]]) -> Iterator[tuple]:
        """(data-parallel, :mod:`portnn.distributed`) One epoch's :func:`batch_shares`; the
        epoch's rows and counts known once it has run."""
        counts, rows = [], 0
        for part in batch_shares(self.model, self.loss, self.source, split):
            counts.append(part[1])
            rows += part[0][0]
            yield part
        self.last_counts, self.n = counts, rows


def batch_shares(model: Network, loss: Loss, batches: Batches, split: Callable[[int], tuple[int, int]]) -> Iterator:
    """(data-parallel) Each batch of ``batches`` prepared whole (every rank reads every batch) and
    this rank's rows of it, ``lo:hi = split(rows)``: ``((rows, lo, hi), count, local, (X, y, w or
    None))``, ``count`` what the batch counts for in a mean over rows (rows, or total weight) and
    ``local`` what this rank's rows count for, as for a batch of arrays in memory."""
    for batch in batches.epoch():
        Xb, yb, weights = prepared_batch(model, loss, batch)
        rows = Xb.shape[0]
        lo, hi = split(rows)
        part = Xb[lo:hi, ...], yb[lo:hi, ...]
        if weights is None:
            yield (rows, lo, hi), rows, float(hi - lo), (*part, None)
            continue
        count, local = weights.batch_totals([(0, rows)])[0], rows_count(weights, lo, hi)
        yield (rows, lo, hi), count, local, (*part, weights.device[lo:hi, ...])


def fit_data(
    model: Network,
    loss: Loss,
    X: Any,
    y: Any,
    weighing: tuple[Any, Any, Any, Any],
    batch_size: int | None,
    shuffle: bool,
    chunk_bytes: int,
    epochs: int,
    steps_per_epoch: int | None,
) -> tuple[Any, tuple | None]:
    """The training and validation data of a fit; ``weighing``: sample and class weight,
    validation split and validation data. An iterable of batches (``y`` left out, see
    :func:`portnn.train.sources.is_batches`) trains a step per batch; a memmap or array-like is
    streamed (:func:`portnn.train.sources.is_streamed`); anything else goes to the device whole."""
    sample_weight, class_weight, split, validation_data = weighing
    steps_per_epoch = _checks.positive_int("steps_per_epoch", steps_per_epoch, allow_none=True)
    if is_batches(X, y):
        if sample_weight is not None or class_weight is not None or split:
            raise TypeError(
                "X: batches carry their own weights; sample_weight, class_weight and validation_split need arrays"
            )
        source = Batches(X, steps_per_epoch)
        source.check_epochs(epochs)
        validation = holdout.validation(model, loss, validation_data, chunk_bytes)
        return BatchesData(model, loss, source), _epochs_checked(validation, epochs)
    if steps_per_epoch is not None:
        raise TypeError("steps_per_epoch: only for an iterable of batches (X with y left out)")
    if y is None:
        raise TypeError("y: expected targets, or X an iterable of (X, y) batches")
    if is_streamed(X) or is_streamed(y):
        args = (sample_weight, class_weight, split, validation_data, batch_size, shuffle, chunk_bytes)
        data, validation = streamed.prepare_fit(model, loss, X, y, *args)
        return data, _epochs_checked(validation, epochs)
    X, y = prepare(model, X, y, loss, "X", "y")
    weights = prepare_weights(model, loss, y, sample_weight, class_weight)
    (X, y, weights), validation = holdout.split(model, loss, X, y, weights, split, validation_data, chunk_bytes)
    return TrainingData(X, y, weights, batch_size, shuffle), _epochs_checked(validation, epochs)


def _epochs_checked(validation: tuple | None, epochs: int) -> tuple | None:
    """``validation``, refused before any step where it is a one-shot iterator of batches that
    would run out after the first epoch, whatever form the training data has."""
    if validation is not None and isinstance(validation[0], Batches):
        validation[0].check_epochs(epochs)
    return validation


def check_distributed(comm: Any, data: Any) -> None:
    """``ValueError`` naming ``distributed`` where streamed data (a memmap, an array-like, an
    iterable of batches) is to train data-parallel with something other than a Communicator."""
    if data.streamed and not hasattr(comm, "parallel_fit"):
        raise ValueError(
            f"distributed: streamed data trains data-parallel with a Communicator (pn.distributed.init()), "
            f"got {type(comm).__name__}"
        )
