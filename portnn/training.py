"""The fit loop: data placed on the device once, batches sliced there, one host read per epoch."""

from __future__ import annotations

import math
import sys
import time
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from . import _checks
from .callbacks import Callback, History
from .losses import Loss, get_loss
from .misuse import check_output
from .optim import Optimizer, get_optimizer
from .step import TrainStep

if TYPE_CHECKING:
    from .network import Network

Array = Any


class DivergenceError(FloatingPointError):
    """Training produced a non-finite loss or parameter; the model keeps its last finite weights."""


def fit(
    model: Network,
    X: Any,
    y: Any,
    *,
    loss: str | Loss = "mse",
    optimizer: str | Optimizer | None = None,
    epochs: int = 1,
    batch_size: int | None = None,
    shuffle: bool = True,
    validation_data: tuple[Any, Any] | None = None,
    callbacks: Sequence[Callback] = (),
    progress: bool | str = "auto",
    compile: bool = True,
) -> History:
    """Train ``model`` on ``(X, y)``.

    ``batch_size=None`` trains on the full batch (one step per epoch); ``1`` is per-sample SGD.
    Rows are reshuffled every epoch from the model's seeded RNG when ``shuffle`` and there is more
    than one batch. Losses stay on the device and are read once per epoch. A non-finite loss or
    parameter stops training with :class:`DivergenceError`, restoring the last finite weights.
    With ``compile`` (the default) each training step runs compiled where the backend compiles
    (JAX, through ``jax.jit``; see :mod:`portnn.compiled`); elsewhere it changes nothing.
    ``optimizer=None`` continues with ``model.optimizer`` (the last fit's, or the one loaded with
    the model) and its state, or starts plain ``SGD(lr=0.01)`` when there is none. A callback
    may set ``model.initial_epoch`` in ``on_train_begin`` (``BackupAndRestore`` does, to resume);
    ``model.history`` is the History being filled.

    >>> import portnn as pn
    >>> X, y = pn.datasets.xor()
    >>> net = pn.Sequential(pn.Dense(2, 4), pn.Tanh(), pn.Dense(4, 1), pn.Sigmoid(), seed=0)
    >>> h = net.fit(X, y, loss="mse", optimizer=pn.optim.SGD(lr=0.5), epochs=5, progress=False)
    >>> len(h.history["loss"])
    5
    """
    loss = get_loss(loss)
    optimizer = get_optimizer(optimizer if optimizer is not None else (model.optimizer or "sgd"))
    if not isinstance(compile, bool):
        raise TypeError(f"compile: expected True or False, got {compile!r}")
    epochs = _checks.positive_int("epochs", epochs)  # type: ignore[assignment]
    batch_size = _checks.positive_int("batch_size", batch_size, allow_none=True)
    show_progress = _resolve_progress(progress)
    X, y = _prepare(model, X, y, loss, "X", "y")
    validation = None
    if validation_data is not None:
        if not isinstance(validation_data, (tuple, list)) or len(validation_data) != 2:
            raise TypeError("validation_data: expected a pair (X_val, y_val)")
        validation = _prepare(model, *validation_data, loss, "validation_data[0]", "validation_data[1]")
    n = X.shape[0]
    size = n if batch_size is None else min(batch_size, n)
    step = model.train_step = TrainStep.reuse(model.train_step, model, loss, optimizer, compile=compile)
    model.optimizer, model.stop_training, model.initial_epoch = optimizer, False, 0
    callbacks = [History(), *callbacks]
    model.history = callbacks[0]
    for cb in callbacks:
        cb.on_train_begin(model)
    guard = _DivergenceGuard(model)
    bar = _Progress(epochs, model.initial_epoch) if show_progress else None
    batches = [(i, min(i + size, n)) for i in range(0, n, size)]
    try:
        with model.backend.floating_point_errors_ignored():
            epoch = _run_epochs(model, X, y, step, epochs, shuffle, batches, validation, callbacks, guard, bar)
    finally:
        if bar is not None:
            bar.close()
    guard.check_final(epoch)
    for cb in callbacks:
        cb.on_train_end(model)
    return callbacks[0]  # type: ignore[return-value]


def _run_epochs(
    model: Network,
    X: Array,
    y: Array,
    step: TrainStep,
    epochs: int,
    shuffle: bool,
    batches: list[tuple[int, int]],
    validation: tuple[Array, Array] | None,
    callbacks: list[Callback],
    guard: _DivergenceGuard,
    bar: _Progress | None,
) -> int:
    """The epoch loop; returns the index of the last epoch run."""
    xp, n, start_time = model.xp, X.shape[0], time.perf_counter()
    loss, first, train_step = step.loss, model.initial_epoch, step.run
    chunks = _chunks(batches, X)
    epoch = first - 1  # when a resumed run has no epoch left to run
    for epoch in range(first, epochs):
        if len(batches) == 1:
            step_losses = [train_step(X, y)]
            total = step_losses[0]
        elif shuffle:
            # Rows gathered in the shuffled order one chunk of batches (about 1 MB) at a time, as
            # they are needed: no epoch-long copy of the training set, and the rows are still in
            # cache when the batch's product reads them.
            order = model.backend.asarray(model.shuffle_rng.permutation(n))
            step_losses = []
            for start, stop, local in chunks:
                Xc, yc = xp.take(X, order[start:stop], axis=0), xp.take(y, order[start:stop], axis=0)
                step_losses += [train_step(Xc[a:b, ...], yc[a:b, ...]) for a, b in local]
            total = sum(v * (b - a) for v, (a, b) in zip(step_losses, batches)) / n
        else:
            step_losses = [train_step(X[a:b, ...], y[a:b, ...]) for a, b in batches]
            total = sum(v * (b - a) for v, (a, b) in zip(step_losses, batches)) / n
        epoch_loss = model.backend.read(total)  # the one host read of the epoch
        if not math.isfinite(epoch_loss):
            guard.fail(epoch, _first_bad_step(model.backend, step_losses))
        if epoch < epochs - 1:  # after the last epoch, check_final looks at the weights instead
            guard.snapshot()
        logs = {"loss": epoch_loss}
        if validation is not None:
            pred = model.forward(validation[0], False)[0]
            logs["val_loss"] = model.backend.read(loss.value_and_grad(xp, pred, validation[1])[0])
        for cb in callbacks:
            cb.on_epoch_end(model, epoch, logs)
        if bar is not None:
            bar.update(epoch, logs, n * (epoch + 1 - first) / (time.perf_counter() - start_time))
        if model.stop_training:
            break
    return epoch


_CHUNK_BYTES = 2**20


def _chunks(batches: list[tuple[int, int]], X: Array) -> list[tuple[int, int, list[tuple[int, int]]]]:
    """Consecutive batches grouped into chunks of about ``_CHUNK_BYTES`` of ``X``: each chunk's
    row range and its batches' ranges within it.

    One gather per chunk rather than per batch: a gather call costs about what copying a few
    thousand values does, which small batches would pay at every step.
    """
    row_bytes = max(1, math.prod(X.shape[1:])) * 8  # an upper bound: float64
    per_chunk = max(1, _CHUNK_BYTES // (row_bytes * (batches[0][1] - batches[0][0])))
    chunks = []
    for i in range(0, len(batches), per_chunk):
        group = batches[i : i + per_chunk]
        start = group[0][0]
        chunks.append((start, group[-1][1], [(a - start, b - start) for a, b in group]))
    return chunks


def _prepare(model: Network, X: Any, y: Any, loss: Loss, x_name: str, y_name: str) -> tuple[Array, Array]:
    X = model.check_features(X, x_name)
    y = _checks.targets(y_name, y, model.backend, model.dtype, X.shape[0])
    check_output(model, loss, X, x_name)  # a loss that does not fit the model's output, before any step
    n_out = model.n_out if model.n_out is not None else model.forward(X[:1, ...], False)[0].shape[1]
    try:
        y = loss.prepare_target(model.xp, y, (X.shape[0], n_out), model.dtype)
    except ValueError as exc:
        raise ValueError(f"{y_name}: {exc}") from exc
    return X, y


def _first_bad_step(backend: Any, step_losses: list) -> int:
    return next((i for i, v in enumerate(step_losses) if not math.isfinite(backend.read(v))), len(step_losses) - 1)


class _DivergenceGuard:
    """Keeps the parameters of the last two epoch ends, copied in place (no allocation per epoch).

    The second buffer is made at the first snapshot, so a one-epoch fit copies the weights once.
    """

    def __init__(self, model: Network) -> None:
        self.model, self.parameters = model, model.parameters()
        self.latest: list | None = self._copies()
        self.previous: list | None = None

    def _copies(self) -> list:
        xp = self.model.xp
        return [xp.asarray(p.value, copy=True) for p in self.parameters]

    def snapshot(self) -> None:
        self.previous, self.latest = self.latest, self.previous
        if self.latest is None:
            self.latest = self._copies()
        elif self.model.backend.writeable:
            for buf, p in zip(self.latest, self.parameters):  # copy_into, inlined: runs every epoch
                buf[...] = p.store[p.key]
        else:
            self.latest = [p.value for p in self.parameters]  # immutable arrays: sharing is a copy

    def _finite(self, arrays: list) -> bool:
        xp, bk = self.model.xp, self.model.backend
        return all(bk.read(xp.all(xp.isfinite(a)), bool) for a in arrays)

    def fail(self, epoch: int, step: int | None, what: str = "the loss") -> None:
        bk = self.model.backend
        restored = next((c for c in (self.latest, self.previous) if c is not None and self._finite(c)), None)
        note = "the weights of the last finite epoch were restored"
        if restored is None:
            note = "no finite weights were left to restore"
        else:
            for buf, p in zip(restored, self.parameters):
                p.value = bk.xp.asarray(buf, copy=True)
        where = f"epoch {epoch}" + (f", step {step}" if step is not None else "")
        raise DivergenceError(
            f"training diverged: {what} became non-finite at {where}; {note}. "
            "Try a lower learning rate or scale the inputs (standardise X)."
        )

    def check_final(self, epoch: int) -> None:
        if not self._finite([p.value for p in self.parameters]):
            self.fail(epoch, None, what="a parameter")


class _Progress:
    """A tqdm bar over epochs showing the loss and samples per second (refreshed at most 10x/s)."""

    def __init__(self, epochs: int, first: int = 0) -> None:
        from tqdm.auto import tqdm

        self.bar = tqdm(total=epochs, initial=first, unit="epoch", file=sys.stderr, dynamic_ncols=True)
        self.last, self.done = 0.0, first

    def update(self, epoch: int, logs: dict[str, float], samples_per_s: float) -> None:
        now, self.done = time.perf_counter(), epoch + 1
        if now - self.last > 0.1:
            shown = {k: f"{v:.4g}" for k, v in logs.items()}
            self.bar.set_postfix(shown, samples_s=f"{samples_per_s:.3g}", refresh=False)
            self.bar.n, self.last = epoch + 1, now
            self.bar.refresh()

    def close(self) -> None:
        self.bar.n = self.done
        self.bar.close()


def _resolve_progress(progress: bool | str) -> bool:
    """Whether to show the bar: ``"auto"`` means when stderr is a terminal."""
    if progress == "auto":
        return sys.stderr.isatty()
    if not isinstance(progress, bool):
        raise ValueError(f"progress: expected True, False or 'auto', got {progress!r}")
    return progress
