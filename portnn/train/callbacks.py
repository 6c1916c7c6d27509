"""Callbacks run by ``fit`` at the start, after every epoch and at the end of training."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

from ..objectives.metricbase import METRICS

if TYPE_CHECKING:
    from .run import Run


class Callback:
    """Base class; override the hooks you need. Each is handed the fit's
    :class:`portnn.train.run.Run`: set ``run.stop_training = True`` to stop; ``run.model`` is the
    network (and the run reads and sets any other attribute on it, so ``model.state_dict()``
    written for the network works)."""

    def on_train_begin(self, run: Run) -> None:
        """Called once before the first epoch."""

    def on_epoch_end(self, run: Run, epoch: int, logs: dict[str, float]) -> None:
        """Called after every epoch with that epoch's ``{"loss": ..., "val_loss": ...}``."""

    def on_train_end(self, run: Run) -> None:
        """Called once after the last epoch."""


class History(Callback):
    """What ``fit`` returns: ``history.history["loss"]`` (and ``"val_loss"``, the metrics, and
    whatever callbacks add to the logs), one float per epoch.

    It records the logs when its turn comes (``fit``'s own History comes first, so the callbacks
    after it see the epoch in ``run.history``), and ``fit`` calls :meth:`settle_epoch` once
    every callback has run, so that what later callbacks added to or changed in the logs is
    recorded too.
    """

    def __init__(self) -> None:
        self.history: dict[str, list[float]] = {}
        self.epoch: list[int] = []
        self._recorded: tuple[str, ...] = ()

    def on_epoch_end(self, run: Run, epoch: int, logs: dict[str, float]) -> None:
        self.epoch.append(epoch)
        history = self.history
        for key, value in logs.items():
            if key in history:  # not setdefault: that makes an empty list every epoch
                history[key].append(value)
            else:
                history[key] = [value]
        self._recorded = tuple(logs)  # a tuple: cheaper than a set, and every epoch pays for it

    def settle_epoch(self, logs: dict[str, float]) -> None:
        """Take in the epoch's final ``logs``: keys added after :meth:`on_epoch_end` are appended,
        changed values replace the recorded ones."""
        history = self.history
        if tuple(logs) == self._recorded:  # nothing added: at most a value replaced (the usual case)
            for key, value in logs.items():
                history[key][-1] = value
            return
        for key, value in logs.items():
            values = self.history.setdefault(key, [])
            if key in self._recorded:
                values[-1] = value
            else:
                values.append(value)
        self._recorded = tuple(logs)

    def plot(self, path: Any = None) -> Any:
        """Draw the loss and metric curves by epoch (matplotlib); save to ``path`` if given.
        Returns the Figure. See :func:`portnn.train.plotting.plot_history`."""
        from .plotting import plot_history

        return plot_history(self.history, path)

    def __repr__(self) -> str:
        last = {k: v[-1] for k, v in self.history.items()}
        return f"History(epochs={len(self.epoch)}, last={last})"


class EarlyStopping(Callback):
    """Stop when ``monitor`` has not improved by ``min_delta`` for ``patience`` epochs.

    ``monitor="auto"`` watches ``val_loss`` when validation data is given, else ``loss``. With
    ``restore_best_weights`` the model ends with the weights of its best epoch. ``mode="auto"``
    maximizes a metric that is better higher (``accuracy``, ``val_r2``, ...: see
    :attr:`portnn.objectives.metricbase.Metric.higher_is_better`) and minimizes anything else; ``"min"`` and
    ``"max"`` say it.
    """

    def __init__(
        self,
        monitor: str = "auto",
        patience: int = 5,
        min_delta: float = 0.0,
        restore_best_weights: bool = False,
        mode: str = "auto",
    ) -> None:
        if mode not in ("auto", "min", "max"):
            raise ValueError(f"mode: expected 'auto', 'min' or 'max', got {mode!r}")
        if isinstance(patience, bool) or not isinstance(patience, int) or patience < 0:
            raise ValueError(f"patience: expected an int >= 0, got {patience!r}")
        if not isinstance(min_delta, (int, float)) or min_delta < 0:
            raise ValueError(f"min_delta: expected a number >= 0, got {min_delta!r}")
        self.monitor, self.patience, self.min_delta = monitor, patience, float(min_delta)
        self.restore_best_weights, self.mode = restore_best_weights, mode

    def _sign(self, key: str) -> float:
        """1 where lower is better, -1 where higher is."""
        if self.mode != "auto":
            return -1.0 if self.mode == "max" else 1.0
        metric = METRICS.get(key[4:] if key.startswith("val_") else key)
        return -1.0 if metric is not None and metric.higher_is_better else 1.0

    def on_train_begin(self, run: Run) -> None:
        self.best, self.best_epoch, self.wait = math.inf, -1, 0
        self.stopped_epoch: int | None = None
        self.best_state: dict[str, Any] | None = None

    def on_epoch_end(self, run: Run, epoch: int, logs: dict[str, float]) -> None:
        key = self.monitor if self.monitor != "auto" else ("val_loss" if "val_loss" in logs else "loss")
        if key not in logs:
            raise ValueError(f"EarlyStopping: monitor {key!r} is not logged; logged: {sorted(logs)}")
        sign = self._sign(key)
        value = logs[key]
        if self.best_epoch < 0 or sign * value < sign * self.best - self.min_delta:
            self.best, self.best_epoch, self.wait = value, epoch, 0
            if self.restore_best_weights:
                self.best_state = run.model.state_dict()
            return
        self.wait += 1
        if self.wait > self.patience:
            self.stopped_epoch = epoch
            run.stop_training = True

    def on_train_end(self, run: Run) -> None:
        if self.restore_best_weights and self.best_state is not None:
            run.model.load_state_dict(self.best_state)
