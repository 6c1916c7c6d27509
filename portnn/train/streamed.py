"""A fit, evaluate or predict on streamed data (:mod:`portnn.train.sources`): rows read from disk
and moved to the device a chunk of whole batches at a time, the next chunk read by a background
thread while the current one trains.

The batches and their order are those of the in-memory fit: the same shuffle order each epoch,
each chunk's rows read in ascending order and put back in the order's, the same steps on the same
rows; so the weights are bit for bit those of ``fit(np.asarray(X), np.asarray(y))``.

Two ways a chunk travels (:attr:`StreamedData.in_place`): a NumPy array (a memmap) trained on a
host backend is gathered from in place, a ~1 MB group of batches at a time, its pages read ahead;
anything else is read into reused host buffers and put on the device ahead by the reading thread,
then gathered there. Data-parallel, each rank reads only its shares' rows (:meth:`rank_parts`).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

import numpy as np

from .. import _checks
from .._xp import to_numpy
from ..objectives.lossbase import Loss
from ..objectives.misuse import check_output
from ..objectives.weights import RowWeights
from . import holdout
from .batches import run_steps
from .evaluation import (
    batch_counts,
    checked_labels,
    checked_rows,
    prepare_rows,
    prepare_weights,
    streamed_width,
)
from .sources import (
    CHUNK_BYTES,
    STREAM_BYTES,
    Rows,
    ascending,
    chunks,
    host_rows,
    is_streamed,
    prefetched,
    read_chunk,
    row_values,
    rows_of,
)

if TYPE_CHECKING:
    from ..nn.network import Network

Array = Any

__all__ = ["StreamedData", "is_streamed", "predict", "prepare_fit"]


class StreamedData:
    """The training rows of a streamed fit, their batches and chunks; what each batch counts for
    in the epoch's loss. The fit loop asks :meth:`steps` for an epoch's steps."""

    streamed = True

    def __init__(
        self,
        model: Network,
        loss: Loss,
        X: Rows,
        y: Rows,
        weights: RowWeights | None,
        batch_size: int | None,
        shuffle: bool,
        chunk_bytes: int,
    ) -> None:
        n = X.n
        size = n if batch_size is None else min(batch_size, n)
        self.model, self.loss, self.X, self.y, self.weights, self.shuffle, self.n = (
            model,
            loss,
            X,
            y,
            weights,
            shuffle,
            n,
        )
        self.w = None if weights is None else weights.host
        self.batches = [(i, min(i + size, n)) for i in range(0, n, size)]
        self.chunks = chunks(self.batches, row_values(X, y), chunk_bytes)
        self.fixed_counts = batch_counts(self.batches, weights)
        # the backend computes in host memory, its arrays writeable: gather in place (not JAX, whose
        # device arrays are copies, nor a GPU: both take chunks put on the device ahead)
        backend = model.backend
        self.output_checked = False
        self.in_place = isinstance(X.array, np.ndarray) and not backend.on_gpu and backend.writeable

    def counts(self, order: Any) -> list:
        """Each batch's count in the epoch's mean, for the rows taken in ``order``."""
        if order is None or self.weights is None:
            return self.fixed_counts
        return batch_counts(self.batches, self.weights, order)

    def steps(self, run: Any, order: np.ndarray | None) -> list:
        """One epoch's steps over the rows taken in ``order`` (host indices; None: as stored).

        A background thread reads each chunk's rows in ascending order into a reused host buffer
        and puts them on the device ahead; here they are gathered into the order's a ~1 MB group
        of batches at a time, as the in-memory fit gathers them (still in cache for the steps).
        A NumPy array (a memmap) trained on the host (:attr:`in_place`) is gathered from in place."""
        if self.in_place:
            return self._steps_in_place(run, order)
        outs: list = []
        xp = self.model.xp
        n_out = streamed_width(self.model, self.X)
        staged = prefetched(lambda c: self._stage(order, c, n_out), self.chunks)
        for (_, _, local), (Xc, yc, wc, where) in zip(self.chunks, staged):
            self._check_output(Xc)
            if where is None:
                outs += run_steps(run, Xc, yc, wc, local)
                continue
            for start, stop, ranges in chunks(local, row_values(self.X), CHUNK_BYTES):
                rows = where[start:stop]
                wr = None if wc is None else xp.take(wc, rows, axis=0)
                outs += run_steps(run, xp.take(Xc, rows, axis=0), xp.take(yc, rows, axis=0), wr, ranges)
        return outs

    def _steps_in_place(self, run: Any, order: np.ndarray | None) -> list:
        """:meth:`steps` where the backend computes in host memory: each ~1 MB group of batches
        gathered from the array straight into the order's (the in-memory fit's gather: the rows
        are in the page cache), checked there, no copy of the chunk; the reading thread reads the
        next chunk's pages ahead (ascending) and its labels and weights."""
        outs: list = []
        model, X = self.model, self.X
        n_out = streamed_width(model, X)
        ahead = prefetched(lambda c: self._ahead(order, c, n_out), self.chunks)
        take = model.backend.row_taker(X.array)  # the backend's own gather, from the host memory
        for (begin, _, local), (picked, y, w) in zip(self.chunks, ahead):
            yc = model.backend.asarray(y)  # encoded on the host in the model's dtype: no copy here
            wc = None if w is None else model.backend.asarray(w)
            for start, stop, ranges in chunks(local, row_values(X), CHUNK_BYTES):
                if picked is None:
                    Xg = self._features(X.read(None, begin + start, begin + stop))
                else:
                    Xg = self._features(take(picked[start:stop] + X.start))
                self._check_output(Xg)
                wg = None if wc is None else wc[start:stop, ...]
                outs += run_steps(run, Xg, yc[start:stop, ...], wg, ranges)
        return outs

    def _features(self, host: np.ndarray) -> Array:
        """A group's rows on the (host) backend, in the model's dtype, checked as ``X``."""
        model = self.model
        return _checks.features("X", host, model.backend, model.dtype, model.n_in)

    def _ahead(self, order: np.ndarray | None, chunk: tuple, n_out: int) -> tuple[Any, Any, Any]:
        """(the reading thread, for :meth:`_steps_in_place`) A chunk's rows of the order (None: as
        stored), their pages read ahead, and their labels and weights in that order, checked and
        encoded on the host (:func:`checked_labels`)."""
        a, b = chunk[0], chunk[1]
        if order is None:
            self.X.touch(None, a, b)
            picked, labels, w = None, self.y.read(None, a, b), None if self.w is None else self.w[a:b]
        else:
            picked = order[a:b]
            self.X.touch(picked)
            if isinstance(self.y.array, np.ndarray):  # labels in memory or memmapped: read in any order
                labels = self.y.read(picked)
            else:
                rows, where = ascending(picked)
                labels = self.y.read(rows)[where]
            w = None if self.w is None else self.w[picked]
        return (picked, *checked_labels(self.model, self.loss, (labels, w), b - a, n_out))

    def rank_parts(self, order: np.ndarray | None, shares: list[tuple[int, int, int, int]]) -> Iterator[tuple]:
        """(data-parallel, :mod:`portnn.distributed`) This rank's rows ``a + lo : a + hi`` of each
        global batch ``(a, b, lo, hi)`` of ``shares``, taken in ``order``, as ``(X, y, w or None)``
        on the device: only those rows read, a chunk of batches at a time, the next one ahead."""
        groups, first = [], 0
        for _, _, local in self.chunks:
            groups.append(shares[first : first + len(local)])
            first += len(local)
        n_out = streamed_width(self.model, self.X)
        staged = prefetched(lambda g: prepare_rows(self.model, self.loss, self._rank_rows(order, g), n_out), groups)
        for group, (Xc, yc, wc) in zip(groups, staged):
            self._check_output(Xc)
            start = 0
            for _, _, lo, hi in group:
                stop = start + hi - lo
                yield Xc[start:stop, ...], yc[start:stop, ...], None if wc is None else wc[start:stop, ...]
                start = stop

    def _rank_rows(self, order: np.ndarray | None, group: list[tuple[int, int, int, int]]) -> tuple:
        """(the reading thread) This rank's rows of a chunk's batches, read ascending and put in
        the order's, on the host (one row where it has none: the steps then take none of it)."""
        parts = [np.arange(a + lo, a + hi) if order is None else order[a + lo : a + hi] for a, _, lo, hi in group]
        picked = np.concatenate(parts)
        if picked.shape[0] == 0:
            a = group[0][0]
            picked = np.arange(a, a + 1) if order is None else order[a : a + 1]
        rows, where = ascending(picked)
        X, y, w = read_chunk(self.X, self.y, self.w, rows, 0, 0)
        return X[where], y[where], None if w is None else w[where]

    def _stage(self, order: np.ndarray | None, chunk: tuple, n_out: int) -> tuple:
        """(the reading thread) A chunk's rows read (ascending), checked and encoded on the host
        (:func:`checked_rows`) and put on the device with where each of the order's rows lies
        among them (None without an order): ``(X, y, w or None, where)``."""
        rows, where = (None, None) if order is None else ascending(order[chunk[0] : chunk[1]])
        host = read_chunk(self.X, self.y, self.w, rows, chunk[0], chunk[1], reuse=True)
        return self.model.backend.stage(*checked_rows(self.model, self.loss, host, n_out), where)

    def _check_output(self, X: Array) -> None:
        """Once per fit, on the first chunk on the device: a loss that does not fit the model's
        output, before any step (the chunks' own checks ran in the reading thread)."""
        if not self.output_checked:
            check_output(self.model, self.loss, X, "X")
            self.output_checked = True


def prepare_fit(
    model: Network,
    loss: Loss,
    X: Any,
    y: Any,
    sample_weight: Any,
    class_weight: Any,
    validation_split: Any,
    validation_data: Any,
    batch_size: int | None,
    shuffle: bool,
    chunk_bytes: int,
) -> tuple[StreamedData, tuple | None]:
    """The streamed training data and the validation data (streamed when its ``X`` is) of a fit."""
    Xr, yr = rows_of(X, y, "X", "y", chunk_bytes)
    labels = yr.array if class_weight is None else yr.read(None, 0, yr.n)  # class weights: y read once, whole
    weights = prepare_weights(model, loss, labels, sample_weight, class_weight)
    validation: tuple | None
    k = holdout.validation_split_rows(validation_split, validation_data, Xr.n)
    if k < Xr.n:
        (Xr, Xv), (yr, yv) = Xr.split(k), yr.split(k)
        train_w = None if weights is None else RowWeights(weights.host[:k], None)
        val_w = None if weights is None else RowWeights(weights.host[k:], None)
        weights, validation = train_w, (Xv, yv, val_w)
    else:
        validation = holdout.validation(model, loss, validation_data, chunk_bytes)
    return StreamedData(model, loss, Xr, yr, weights, batch_size, shuffle, chunk_bytes), validation


def predict(
    model: Network, X: Any, batch_size: int | None = None, out: Any = None, chunk_bytes: int = STREAM_BYTES
) -> Any:
    """``model``'s outputs for streamed ``X`` as a host NumPy array (or written into ``out``, a
    memmap say, and returned): ``batch_size`` rows at a time (None: a chunk's rows), read a
    chunk at a time, never all inputs on the device."""
    batch_size = _checks.positive_int("batch_size", batch_size, allow_none=True)
    Xr = Rows(host_rows(X))
    if len(Xr.shape) != 2 or Xr.n == 0:
        raise ValueError(f"X: expected a 2-D array (samples, features) with rows, got shape {Xr.shape}")
    n = Xr.n
    size = min(n, batch_size or max(1, chunk_bytes // (8 * row_values(Xr))))
    groups = chunks([(a, min(a + size, n)) for a in range(0, n, size)], row_values(Xr), chunk_bytes)
    for (start, _, local), host in zip(groups, prefetched(lambda g: Xr.read(None, g[0], g[1]), groups)):
        Xc = model.check_features(host)
        for a, b in local:
            part = to_numpy(model.forward(Xc[a:b, ...], False)[0])
            if out is None:
                out = np.empty((n, *part.shape[1:]), part.dtype)
            if tuple(out.shape) != (n, *part.shape[1:]):
                raise ValueError(f"out: expected shape {(n, *part.shape[1:])}, got {tuple(out.shape)}")
            out[start + a : start + b] = part
    return out
