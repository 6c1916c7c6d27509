"""The fit loop: data placed on the device once, batches sliced there, one host read per epoch."""

from __future__ import annotations

import math
import time
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from .. import _checks
from ..objectives.lossbase import Loss, get_loss
from ..objectives.metricbase import Metric, MetricSet, output_kind
from ..objectives.weights import RowWeights
from ..optim.optimizers import Optimizer, get_optimizer
from . import progress as progress_display
from .batches import TrainingData, run_steps
from .callbacks import Callback, History
from .divergence import DivergenceError, DivergenceGuard, first_bad_step
from .evaluation import measure, read_all, weighted_mean
from .fitdata import check_distributed, fit_data
from .run import Run
from .shuffling import ShuffleOrders
from .sources import STREAM_BYTES
from .step import TrainStep

if TYPE_CHECKING:
    from ..nn.network import Network

__all__ = ["DivergenceError", "fit"]

Array = Any


def fit(
    model: Network,
    X: Any,
    y: Any = None,
    *,
    loss: str | Loss = "mse",
    optimizer: str | Optimizer | None = None,
    epochs: int = 1,
    batch_size: int | None = None,
    shuffle: bool = True,
    validation_data: tuple | None = None,
    validation_split: float = 0.0,
    callbacks: Sequence[Callback] = (),
    progress: bool | str = "auto",
    compile: bool = True,
    metrics: Sequence[str | Metric] = (),
    sample_weight: Any = None,
    class_weight: Any = None,
    distributed: Any = None,
    chunk_bytes: int = STREAM_BYTES,
    steps_per_epoch: int | None = None,
) -> History:
    """Train ``model`` on ``(X, y)``.

    The defaults differ from Keras's (``batch_size=32``, ``epochs=1`` there): ``batch_size=None``
    trains on the full batch, one step per epoch, and ``epochs=1`` is one step in all. That is
    gradient descent as the textbooks write it, and right for small data sets trained for many
    epochs; for Keras's habits pass ``batch_size=32`` and more epochs (and ``optimizer="adam"``:
    the default is plain ``SGD(lr=0.01)``). ``1`` is per-sample SGD.
    Rows are reshuffled every epoch from the model's seeded RNG when ``shuffle`` and there is more
    than one batch. Losses stay on the device and are read once per epoch. A non-finite loss or
    parameter stops training with :class:`DivergenceError`, restoring the last finite weights.
    With ``compile`` (the default) each training step runs compiled where the backend compiles
    (JAX, through ``jax.jit``; see :mod:`portnn.train.compiled`); elsewhere it changes nothing.
    ``optimizer=None`` continues with ``model.optimizer`` (the last fit's, or the one loaded with
    the model) and its state, or starts plain ``SGD(lr=0.01)`` when there is none. The callbacks
    are handed the fit's :class:`portnn.train.run.Run`: a callback stops the fit with
    ``run.stop_training = True`` and may set ``run.initial_epoch`` in ``on_train_begin``
    (``BackupAndRestore`` does, to resume); ``run.history`` (and ``model.history``) is the History
    being filled; everything else it reads is the model's. ``progress``: ``"auto"`` shows a bar in a
    terminal or a Jupyter notebook and nothing elsewhere, ``"lines"`` one plain line per epoch (for
    log files and CI), ``True``/``"bar"`` always the bar, ``False`` nothing (:mod:`portnn.train.progress`).

    ``metrics`` (names or :class:`portnn.objectives.metrics.Metric` objects) are logged each epoch under their
    names, computed on the device from the predictions each step trains on and read with the loss;
    with ``validation_data`` (``(X_val, y_val)`` or ``(X_val, y_val, sample_weight_val)``) the
    validation loss and metrics as ``val_loss``, ``val_<name>``. ``validation_split=0.2`` holds out
    the last 20% of the rows (and of their weights) as validation data, taken before any shuffling,
    as in Keras. The loss and metrics are remembered for ``model.evaluate``. ``sample_weight`` (one per row)
    and ``class_weight`` (``{label: weight}``, unlisted classes 1) weigh the rows: the loss, the
    epoch's loss and the metrics become weighted means (weight 2 counts a row twice).

    ``distributed`` (a :class:`portnn.distributed.Communicator`, from ``pn.distributed.init()``)
    trains data-parallel: every rank runs this same ``fit``, ``batch_size`` is the global batch,
    each rank trains on its share of every batch and the ranks sum their gradients, so the result
    is a single process's (see :mod:`portnn.distributed`). Only rank 0 shows progress and writes
    backups. Streamed arrays: each rank reads only its rows, of the training and validation data.
    An iterable of batches: every rank reads every batch whole and trains on its share of it, so
    every rank must iterate the same batches (its own iterable of the same global batches, in the
    same order); a batch of other rows or weight on one rank stops them all with ``ValueError``.

    ``X`` (and ``y``, ``validation_data``) may be larger than memory: a ``numpy.memmap``
    (``np.load(path, mmap_mode="r")``) or an array-like with ``shape``, ``dtype`` and row indexing
    (h5py, zarr) is streamed, read ``chunk_bytes`` of rows (whole batches) at a time, with the same
    weights as in memory (see :mod:`portnn.train.sources` and :mod:`portnn.train.streamed`). With
    ``y`` left out, ``X`` is an iterable of ``(X, y)`` or ``(X, y, sample_weight)`` batches in any
    namespace (a list, a PyTorch ``DataLoader``), each batch one step; ``steps_per_epoch`` as in
    Keras (a one-shot generator gives one epoch unless it is set); ``validation_data`` the same.

    >>> import portnn as pn
    >>> X, y = pn.datasets.xor()
    >>> net = pn.Sequential(pn.Dense(2, 4), pn.Tanh(), pn.Dense(4, 1), pn.Sigmoid(), seed=0)
    >>> h = net.fit(X, y, loss="mse", optimizer=pn.optim.SGD(lr=0.5), epochs=5, metrics=["accuracy"], progress=False)
    >>> len(h.history["loss"]), len(h.history["accuracy"])
    (5, 5)
    """
    loss = get_loss(loss)
    optimizer = get_optimizer(optimizer if optimizer is not None else (model.optimizer or "sgd"))
    if not isinstance(compile, bool):
        raise TypeError(f"compile: expected True or False, got {compile!r}")
    epochs = _checks.positive_int("epochs", epochs)  # type: ignore[assignment]
    batch_size = _checks.positive_int("batch_size", batch_size, allow_none=True)
    shown = progress_display.resolve(progress)
    chunk_bytes = _checks.positive_int("chunk_bytes", chunk_bytes)  # type: ignore[assignment]
    weighing = (sample_weight, class_weight, validation_split, validation_data)
    data, validation = fit_data(model, loss, X, y, weighing, batch_size, shuffle, chunk_bytes, epochs, steps_per_epoch)
    _check_batch_rows(model, data.batches, batch_size)
    if distributed is not None:
        check_distributed(distributed, data)
    metric_set = MetricSet(metrics, output_kind(model, loss)) if metrics else None
    if distributed is None:
        parallel = None
        step = TrainStep.reuse(model.train_step, model, loss, optimizer, compile=compile, observe=metric_set)
    else:
        parallel = distributed.parallel_fit(model, data, loss, optimizer, metric_set, compile=compile)
        step, shown = parallel.step, shown if distributed.rank == 0 else None
    model.train_step, model.optimizer = step, optimizer
    model.loss, model.metrics = loss, list(metrics)  # what evaluate measures unless told otherwise
    history = History()
    callbacks, model.history = [history, *callbacks], history
    run = Run(model, history, rank=0 if distributed is None else distributed.rank)
    try:
        for cb in callbacks:
            cb.on_train_begin(run)
        if parallel is not None:
            parallel.synchronize(run.initial_epoch)
        _train(run, step, data, validation, metric_set, callbacks, shown, epochs, parallel)
        for cb in callbacks:  # still as this rank: only rank 0 removes a backup
            cb.on_train_end(run)
    finally:
        if parallel is not None:
            parallel.finish()
    return history


def _train(
    run: Run,
    step: TrainStep,
    data: TrainingData,
    validation: tuple | None,
    metric_set: MetricSet | None,
    callbacks: list[Callback],
    shown: str | None,
    epochs: int,
    parallel: Any,
) -> int:
    """The epochs, with the progress display open, and the final check of the weights; the index
    of the last epoch run."""
    bar = progress_display.make(shown, epochs, run.initial_epoch)
    loop = _Loop(run, step, data, validation, metric_set, callbacks, bar, parallel)
    try:
        with run.model.backend.floating_point_errors_ignored():
            epoch = loop.run(epochs)
    finally:
        if bar is not None:
            bar.close()
    loop.guard.check_final(epoch)
    return epoch


class _Loop:
    """The epochs of one fit: train, measure, read once, guard, call back."""

    def __init__(
        self,
        run: Run,
        step: TrainStep,
        data: TrainingData,
        validation: tuple | None,
        metric_set: MetricSet | None,
        callbacks: list[Callback],
        bar: progress_display.Bar | progress_display.Lines | None,
        parallel: Any = None,
    ) -> None:
        model = run.model
        self.state, self.model, self.step, self.data, self.validation = run, model, step, data, validation
        # a data-parallel fit (portnn.distributed.parallel): its epochs, validation and stop
        self.parallel = parallel
        self.epoch = self.train_epoch if parallel is None else parallel.train_epoch
        if parallel is None and len(data.batches) == 1 and data.w is None and metric_set is None and not data.streamed:
            self.epoch = self.one_step_epoch
        self.metric_set, self.callbacks, self.bar = metric_set, callbacks, bar
        # Histories take in what callbacks after them added to the logs; with no other callback, nothing.
        others = any(not isinstance(cb, History) for cb in callbacks)
        self.histories = [cb for cb in callbacks if isinstance(cb, History)] if others else []
        self.guard = DivergenceGuard(model)  # after on_train_begin: a restored run's weights
        shuffled = data.shuffle and len(data.batches) > 1 and parallel is None
        device = None if data.streamed else model.backend  # a streamed fit reads its rows on the host
        self.orders = ShuffleOrders(model.shuffle_rng, data.n, device) if shuffled else None
        self.step_call = step.run  # per batch: the step itself where compiled (it follows lr changes)

    def run(self, epochs: int) -> int:
        """The epoch loop; returns the index of the last epoch run. What it uses every epoch is
        bound to local names first: a tiny network's epoch lasts a few microseconds, so the
        loop's own lookups are a measurable part of it."""
        run, model, first, start_time = self.state, self.model, self.state.initial_epoch, time.perf_counter()
        train_epoch, validation, orders, bar, parallel = (
            self.epoch,
            self.validation,
            self.orders,
            self.bar,
            self.parallel,
        )
        read_loss, isfinite, snapshot = model.backend.reader(float), math.isfinite, self.guard.snapshot
        callbacks, histories, last = self.callbacks, self.histories, epochs - 1
        epoch = first - 1  # when a resumed run has no epoch left to run
        for epoch in range(first, epochs):
            step_losses, values = train_epoch()
            if validation is not None:
                values.update({f"val_{key}": value for key, value in self.measure(*validation).items()})
            if orders is not None and epoch < last:
                orders.draw_ahead()  # while the device still works: the read below waits for it
            # the one host read of the epoch (the loss alone: a plain read, the hot path of small nets)
            logs = read_all(model.backend, values) if len(values) > 1 else {"loss": read_loss(values["loss"])}
            if not isfinite(logs["loss"]):
                self.guard.fail(epoch, first_bad_step(model.backend, step_losses))
            if epoch < last:  # after the last epoch, check_final looks at the weights instead
                snapshot()
            for cb in callbacks:
                cb.on_epoch_end(run, epoch, logs)
            for history in histories:  # what callbacks after a History added to the logs
                history.settle_epoch(logs)
            if bar is not None:
                bar.update(epoch, logs, self.data.n * (epoch + 1 - first) / (time.perf_counter() - start_time))
            if parallel is not None:  # a callback of one rank stops them all
                run.stop_training = parallel.any(run.stop_training)
            if run.stop_training:
                break
        return epoch

    def measure(self, X: Array, y: Array, weights: RowWeights | None) -> dict[str, Array]:
        """The validation loss and metrics, on the device."""
        if self.parallel is not None:
            return self.parallel.validate(X, y, weights)  # type: ignore[no-any-return]
        return measure(self.model, X, y, weights, self.step.loss, self.metric_set)

    def one_step_epoch(self) -> tuple[list, dict[str, Array]]:
        """:meth:`train_epoch` for the full batch, unweighted, without metrics: one step."""
        loss = self.step_call(self.data.X, self.data.y)
        return [loss], {"loss": loss}

    def train_epoch(self) -> tuple[list, dict[str, Array]]:
        """One epoch of steps: the steps' losses and the epoch's loss and metrics, on the device."""
        data, run, order = self.data, self.step_call, None
        if data.streamed:
            order = None if self.orders is None else self.orders.take()[0]
            outs = data.steps(run, order)
        elif len(data.batches) == 1:
            outs = [run(data.X, data.y)] if data.w is None else [run(data.X, data.y, data.w)]
        elif self.orders is not None:
            order, on_device = self.orders.take()
            outs = data.shuffled_steps(self.model.xp, run, on_device)
        else:
            outs = run_steps(run, data.X, data.y, data.w, data.batches)
        if self.metric_set is None:
            return outs, {"loss": outs[0] if len(outs) == 1 else weighted_mean(outs, data.counts(order))}
        losses = [out[0] for out in outs]
        values = {"loss": weighted_mean(losses, data.counts(order))}
        values.update(self.metric_set.values(self.model.xp, [out[1] for out in outs]))
        return losses, values


def _check_batch_rows(model: Network, batches: list[tuple[int, int]], batch_size: int | None) -> None:
    """Refuse, before the first step, a batch too small for a layer (BatchNorm needs 2 rows)."""
    layer = max(model.layers, key=lambda x: x.min_batch_rows, default=None)
    if not batches:  # an iterable's batches: not known ahead
        return
    smallest = min(b - a for a, b in batches)
    if layer is not None and smallest < layer.min_batch_rows:
        n = batches[-1][1]
        raise ValueError(
            f"batch_size: {type(layer).__name__} needs at least {layer.min_batch_rows} rows per training batch, but "
            f"{n} rows in batches of {batch_size} leave a last batch of {smallest}; choose another batch_size"
        )
