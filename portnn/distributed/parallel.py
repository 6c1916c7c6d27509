"""What ``fit(..., distributed=comm)`` trains with: this rank's share of every global batch, the
gradient reduction after each backward pass, and the epoch's loss and metrics over all ranks.

Rank ``r`` of ``P`` takes rows ``lo:hi`` of each global batch of ``n`` rows (the first ``n % P``
ranks one more; a rank may get none). Its loss and the gradient of its rows' mean are scaled by
its share ``rows / n`` (with weights: its weight over the batch's), so the sum over the ranks is
the global batch's mean and gradient, exact for uneven and empty shares. The scaled gradients
and the scaled loss travel as one flat buffer per step (``portnn._xp.transports``); every rank
joins that sum at every step, with rows or without.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

import numpy as np

from .._xp import to_numpy
from ..nn.layers import Dropout
from ..objectives.lossbase import Loss
from ..objectives.weights import rows_count
from ..train.compiled import can_compile
from ..train.evaluation import weighted_mean
from ..train.fitdata import BatchesData
from ..train.step import TrainStep
from . import validation
from .compiled import SplitStep
from .shares import ScaledLoss, local_metrics, merge_metrics, share

if TYPE_CHECKING:
    from ..nn.network import Network
    from ..objectives.metricbase import MetricSet
    from ..optim.optimizers import Optimizer

Array = Any


class ParallelFit:
    """One ``fit`` of ``model`` on ``data`` (``fit``'s batches: ``X``, ``y``, ``w``, ``weights``,
    ``batches``, ``shuffle``, ``n``, ``counts(order)``) as rank ``comm.rank`` of ``comm.size``."""

    def __init__(
        self,
        comm: Any,  # a portnn.distributed.Communicator (comm.py makes this object, so no import back)
        model: Network,
        data: Any,
        loss: Loss,
        optimizer: Optimizer,
        metric_set: MetricSet | None,
        compile: bool = True,
    ) -> None:
        if any(layer.buffers and not layer.fixed_buffers for layer in model.layers):
            raise ValueError(
                "distributed: a network with buffers (BatchNorm's running statistics) cannot be trained data-parallel "
                "yet: each rank would normalize with its own rows' statistics; use LayerNorm, or train on one process"
            )
        self.comm, self.model, self.data, self.loss, self.metric_set = comm, model, data, loss, metric_set
        self.transport = comm.transport_for(model.backend)
        self.scaled = ScaledLoss(loss)
        self.step = TrainStep(model, self.scaled, optimizer, grad_hook=self.reduce, compile=False, observe=metric_set)
        # JAX: a compiled gradient function, the reduction, a compiled update
        compiled = compile and can_compile(model, optimizer)
        self.split = SplitStep(model, self.scaled, optimizer, metric_set) if compiled else None
        self.layout = [(int(np.prod(p.value.shape)), tuple(p.value.shape)) for p in self.step.parameters]
        listed = model.parameter_list  # JAX: the reduced gradients replace the list's, in one call
        self.by_list = listed is not None and listed.names == [p.name for p in self.step.parameters]
        self.dropouts = [layer for layer in model.layers if isinstance(layer, Dropout)]
        self.shares = [(a, b, *share(b - a, comm.size, comm.rank)) for a, b in data.batches]
        self.global_loss: Array = None

    # -- before the first epoch ----------------------------------------------------------------
    def synchronize(self, initial_epoch: int) -> None:
        """Every rank starts from rank 0's parameters, random generators and seed. All must pass
        data of the same shapes (each rank the whole training set: it takes its rows) and start at
        the same epoch, ``initial_epoch`` (a resumed run: every rank must read the same backup)."""
        model, comm, data = self.model, self.comm, self.data
        comm.watchdog.follow(comm.size > 1)  # alone, no rank can wait for this one
        mine = (_shapes(data), initial_epoch)
        theirs = comm.allgather(mine, "the check of the data's shapes and the first epoch")
        if len(set(theirs)) > 1:
            raise ValueError(
                "distributed: the ranks differ in ((X shape, y shape), first epoch): "
                f"{dict(enumerate(theirs))}; every rank passes the whole training set (it takes its own rows) "
                "and, resuming, reads the same backup"
            )
        params = {k: to_numpy(v) for k, v in model.state_dict().items()} if comm.rank == 0 else None
        state = comm.broadcast((params, model.rng_state(), model.seed), "the broadcast of the initial parameters")
        if comm.rank != 0:
            model.load_state_dict(state[0])
            model.set_rng_state(state[1])
            model.seed = state[2]

    # -- one epoch -------------------------------------------------------------------------------
    def train_epoch(self) -> tuple[list, dict[str, Array]]:
        """This rank's steps of one epoch: the global steps' losses and the epoch's loss and metrics."""
        steps = self._batch_steps() if isinstance(self.data, BatchesData) else self._array_steps()
        losses, observed, counts = [], [], []
        for (rows, lo, hi), count, local, part in steps:
            out = self._step(part, local, rows, lo, hi, count)
            losses.append(self.global_loss)
            counts.append(count)
            if self.metric_set is not None and hi > lo:
                observed.append(out[1])
        values = {"loss": weighted_mean(losses, counts)}
        if self.metric_set is not None:
            values.update(self._merge(local_metrics(self.model.xp, self.metric_set, observed)))
        return losses, values

    def _array_steps(self) -> Iterator[tuple]:
        """Each global batch of arrays: ``((rows, lo, hi), count, local, part)``, this rank's rows
        ``lo:hi`` of the batch's ``rows`` (``part``: ``X``, ``y``, ``w``), what the batch and they
        count for; the rows taken in the epoch's shuffle order."""
        data = self.data
        order = self.model.shuffle_rng.permutation(data.n) if data.shuffle and len(data.batches) > 1 else None
        # streamed data (portnn.train.streamed) reads only this rank's rows, a chunk at a time
        parts = data.rank_parts(order, self.shares) if data.streamed else self._parts(order)
        for (a, b, lo, hi), count, part in zip(self.shares, data.counts(order), parts):
            yield (b - a, lo, hi), count, self._local(order, a + lo, a + hi), part

    def _batch_steps(self) -> Iterator[tuple]:
        """:meth:`_array_steps` for an iterable of batches, which every rank reads whole: before
        each step (and at the end of the epoch) the ranks check that they hold the same batch."""
        batches, index = self.data.rank_parts(self.split_rows), 0
        while True:
            item = next(batches, None)
            mine = None if item is None else (item[0][0], item[1])  # the batch's rows and count
            theirs = self.comm.allgather(mine, "the check of the batch's rows")
            if len(set(theirs)) > 1:
                raise ValueError(
                    f"distributed: the ranks' iterables differ at batch {index} of the epoch: (rows, count) or None "
                    f"(no batch left) per rank {dict(enumerate(theirs))}; every rank iterates the same batches "
                    "(each trains on its share of every batch)"
                )
            if item is None and index == 0:
                raise ValueError(f"{self.data.source.name}: the iterable gave no batches")
            if item is None:
                return
            index += 1
            yield item

    def split_rows(self, rows: int) -> tuple[int, int]:
        """This rank's rows ``lo:hi`` of a batch (or of validation data) of ``rows`` rows."""
        return share(rows, self.comm.size, self.comm.rank)

    def _parts(self, order: Any) -> Any:
        """This rank's rows of each global batch, ``(X, y, w or None)``, of data on the device (the
        rows taken in ``order``, which goes to the device once per epoch)."""
        data, xp = self.data, self.model.xp
        index = None if order is None else self.model.backend.asarray(order)
        for a, _, lo, hi in self.shares:
            if index is None:
                rows: Any = slice(a + lo, a + hi)
                yield data.X[rows, ...], data.y[rows, ...], None if data.w is None else data.w[rows, ...]
                continue
            mine = index[a + lo : a + hi]
            w = None if data.w is None else xp.take(data.w, mine, axis=0)
            yield xp.take(data.X, mine, axis=0), xp.take(data.y, mine, axis=0), w

    def _local(self, order: Any, a: int, b: int) -> float:
        """What this rank's rows ``a:b`` of the epoch (taken in ``order``) count: rows, or weight."""
        return rows_count(self.data.weights, a, b, order)

    def _step(self, part: tuple, local: float, rows: int, lo: int, hi: int, count: float) -> Any:
        """One step on this rank's rows ``lo:hi`` (``part``: ``X``, ``y``, ``w``) of a global batch
        of ``rows`` rows counting ``count``; ``local``: what this rank's rows count."""
        backend = self.model.backend
        X, y, w = part
        fraction = local / count if count > 0 else 0.0  # a batch weighing nothing: zeros, as in one process
        self.scaled.scale, self.scaled.empty = fraction, hi == lo
        for layer in self.dropouts:  # each rank draws the global batch's mask and keeps its rows
            layer.batch_rows = (lo, hi, rows)
        if self.split is not None:
            return self.split(X, y, w, backend.asarray(np.asarray(fraction), self.model.dtype), self.reduce)
        return self.step.eager(X, y) if w is None else self.step.eager(X, y, w)

    def reduce(self, parameters: list) -> None:
        """The grad hook: the scaled gradients and loss summed over the ranks, as one flat buffer
        (the network's flat gradients, where it keeps its parameters in a block, summed into it)."""
        xp, block = self.model.xp, self.model.parameter_block
        if block is not None:
            n = block.grads.shape[0]
            flat = self.transport.allreduce(xp.concat([block.grads, xp.reshape(self.scaled.value, (1,))]))
            self.model.backend.copy_into(block.grads, flat[:n])
            self.global_loss = xp.reshape(flat[n:], ())
            return
        owner = self.model.parameter_list if self.by_list else None
        grads = [p.grad for p in parameters] if owner is None else owner.grads()
        parts = [xp.reshape(g, (-1,)) for g in grads]
        flat = self.transport.allreduce(xp.concat([*parts, xp.reshape(self.scaled.value, (1,))]))
        summed, start = [], 0
        for size, shape in self.layout:
            summed.append(xp.reshape(flat[start : start + size], shape))
            start += size
        self.global_loss = xp.reshape(flat[start:], ())
        if owner is not None:
            owner.set_grads(summed)
            return
        for p, g in zip(parameters, summed):
            p.grad = g

    # -- measured over all ranks ----------------------------------------------------------------
    def validate(self, X: Array, y: Array, weights: Any) -> dict[str, Array]:
        """The loss and metrics on validation data (in memory, streamed, or an iterable of
        batches), each rank measuring its share (:mod:`portnn.distributed.validation`)."""
        part = validation.rank_part(self.model, self.loss, self.metric_set, (X, y, weights), self.split_rows)
        return validation.merged(self.model, self.metric_set, self.comm.allgather(part, "the validation allgather"))

    def _merge(self, local: list | None) -> dict[str, Array]:
        gathered = self.comm.allgather(local, "the metrics allgather")
        return merge_metrics(self.model.backend, self.metric_set, [g for g in gathered if g is not None])

    def finish(self) -> None:
        """After the fit: the model trains and saves as one process again."""
        self.comm.watchdog.follow(False)
        for layer in self.dropouts:
            layer.batch_rows = None

    def any(self, flag: bool) -> bool:
        """Whether ``flag`` (``stop_training``) is set on any rank: then every rank stops."""
        return self.comm.any(flag)


def _shapes(data: Any) -> tuple:
    """What the ranks' training data must agree on before the first step: the arrays' shapes (an
    iterable of batches: checked batch by batch as the epochs run)."""
    if isinstance(data, BatchesData):
        return ("an iterable of batches",)
    return tuple(data.X.shape), tuple(data.y.shape)
