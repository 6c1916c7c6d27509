"""scikit-learn's stochastic training loop (``_fit_stochastic``) on any backend: its solvers, its
shuffling through the estimator's ``RandomState``, its batches, its early-stopping split, its
stopping rule. The epochs are :meth:`LinkModel.epoch <portnn.train.linkmodel.LinkModel.epoch>`.

``sgd`` is :class:`portnn.optim.SGD` in its velocity form (``v = momentum * v - lr * g``; Nesterov
applies it twice), ``adam`` is :class:`portnn.optim.Adam` with ``eps_hat`` (epsilon outside the
bias correction); ``invscaling`` is :func:`portnn.optim.schedules.inverse_scaling` of the samples
seen, set between epochs.

The data stay on the device; each epoch sends one permutation of indices there and reads one
loss back (and, with early stopping, the validation predictions, scored on the host with
scikit-learn's own metric so the score is scikit-learn's to the bit).
"""

from __future__ import annotations

from typing import Any

import numpy as np
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import train_test_split
from sklearn.utils import shuffle

from .._xp import to_numpy
from ..objectives.weights import RowWeights
from ..optim import SGD, Adam, Optimizer
from ..optim.schedules import inverse_scaling
from ..train.batches import TrainingData
from ..train.linkmodel import LinkModel
from .alerts import warn


class Solver:
    """A core optimizer driven as scikit-learn drives its ``SGDOptimizer`` / ``AdamOptimizer``:
    ``learning_rate`` is the optimizer's ``lr`` (scikit-learn's tests and users read it from
    ``_optimizer``), set by the ``invscaling`` schedule between epochs or divided by the
    ``adaptive`` stopping rule.

    >>> solver = Solver(SGD(lr=0.1), "invscaling", power_t=0.5)
    >>> solver.iteration_ends(time_step=99)
    >>> solver.learning_rate
    0.01
    """

    def __init__(self, optimizer: Optimizer, lr_schedule: str = "constant", power_t: float = 0.5) -> None:
        self.optimizer, self.lr_schedule = optimizer, lr_schedule
        self.schedule = inverse_scaling(optimizer.lr, power_t) if lr_schedule == "invscaling" else None

    @property
    def learning_rate(self) -> float:
        return self.optimizer.lr

    @learning_rate.setter
    def learning_rate(self, value: float) -> None:
        self.optimizer.lr = value

    def iteration_ends(self, time_step: int) -> None:
        """Called after each epoch with the number of samples seen so far."""
        if self.schedule is not None:
            self.learning_rate = self.schedule(time_step)

    def trigger_stopping(self, msg: str, verbose: Any) -> bool:
        """True to stop training when the loss or score stopped improving; ``adaptive`` divides
        the learning rate by 5 instead, until it is 1e-6 or less."""
        if self.lr_schedule == "adaptive" and self.learning_rate > 1e-6:
            self.learning_rate /= 5.0
            if verbose:
                print(msg + f" Setting learning rate to {self.learning_rate:f}")
            return False
        if verbose:
            print(msg + (" Learning rate too small. Stopping." if self.lr_schedule == "adaptive" else " Stopping."))
        return True


def make_solver(est: Any) -> Solver:
    """The estimator's solver (its NumPy-scalar settings as floats: array_api_strict's arithmetic
    takes Python scalars only)."""
    lr = float(est.learning_rate_init)
    if est.solver == "adam":
        betas = (float(est.beta_1), float(est.beta_2))
        return Solver(Adam(lr=lr, betas=betas, eps=float(est.epsilon), eps_hat=True))
    # without momentum scikit-learn's Nesterov step is the plain one, which the core SGD takes
    nesterov = bool(est.nesterovs_momentum) and est.momentum > 0
    sgd = SGD(lr=lr, momentum=float(est.momentum), nesterov=nesterov, velocity_form=True)
    return Solver(sgd, est.learning_rate, float(est.power_t))


def split_validation(rs: Any, n: int, fraction: float, stratify: Any) -> tuple[np.ndarray, np.ndarray]:
    """Train and validation indices as scikit-learn's ``train_test_split`` draws them."""
    idx_train, idx_val = train_test_split(np.arange(n), random_state=rs, test_size=fraction, stratify=stratify)
    if idx_val.shape[0] < 2:
        raise ValueError("The validation set is too small. Increase 'validation_fraction' or the size of your dataset.")
    return idx_train, idx_val


def batch_size_for(est: Any, n_samples: int) -> int:
    """The batch size scikit-learn uses: ``"auto"`` is min(200, n), others clipped to [1, n]."""
    if est.batch_size == "auto":
        return min(200, n_samples)
    if est.batch_size > n_samples:
        warn("Got `batch_size` less than 1 or larger than sample size. It is going to be clipped")
    return int(np.clip(est.batch_size, 1, n_samples))


def take(bk: Any, a: Any, idx: Any) -> Any:
    """The rows ``idx`` of ``a`` on the device (None stays None: no sample weights)."""
    return None if a is None else bk.xp.take(a, idx, axis=0)


class StochasticMixin:
    """The ``sgd``/``adam`` solvers' fit, for :class:`~portnn.sklearn.base.BaseMLP`."""

    _optimizer: Solver | None

    def _fit_stochastic(self: Any, model: LinkModel, data: tuple, host: tuple, incremental: bool) -> None:
        """Train ``model`` on ``data = (X, y, sample_weight)`` (device arrays) for up to ``max_iter``
        epochs; ``host = (y, sample_weight)`` on the host, for the validation split and score."""
        bk, (X, y, sw), (y_host, sw_host) = model.bk, data, host
        if self.early_stopping and incremental:
            raise ValueError("partial_fit does not support early_stopping=True")
        if not incremental or getattr(self, "_optimizer", None) is None:
            self._optimizer = make_solver(self)
        solver = self._optimizer
        solver.optimizer.move(bk, X.dtype)
        model.train(solver.optimizer, compile=solver.schedule is None)
        val = None
        if self.early_stopping:
            stratify = y_host if self._stratify_validation() else None
            idx_train, idx_val = split_validation(self._random_state, X.shape[0], self.validation_fraction, stratify)
            dev_train, dev_val = bk.asarray(idx_train), bk.asarray(idx_val)
            val = (
                take(bk, X, dev_val),
                self._labels_for_score(y_host[idx_val]),
                None if sw is None else sw_host[idx_val],
            )
            X, y, sw = take(bk, X, dev_train), take(bk, y, dev_train), take(bk, sw, dev_train)
            sw_host = None if sw is None else sw_host[idx_train]
        weights = None if sw is None else RowWeights(sw_host, sw)
        batches = TrainingData(X, y, weights, batch_size_for(self, X.shape[0]), self.shuffle)
        sample_idx = np.arange(X.shape[0], dtype=int)
        try:
            self.n_iter_ = 0
            for _ in range(self.max_iter):
                if self.shuffle:
                    sample_idx = shuffle(sample_idx, random_state=self._random_state)
                loss = model.epoch(batches, bk.asarray(sample_idx) if self.shuffle else None)
                self.n_iter_, self.t_, self.loss_ = self.n_iter_ + 1, self.t_ + X.shape[0], to_numpy(loss)[()]
                self.loss_curve_.append(self.loss_)
                if self.verbose:
                    print(f"Iteration {self.n_iter_}, loss = {self.loss_:.8f}")
                self._update_no_improvement_count(model, val)
                solver.iteration_ends(self.t_)
                if self._no_improvement_count > self.n_iter_no_change:
                    what = "Validation score" if val is not None else "Training loss"
                    msg = f"{what} did not improve more than tol={self.tol:f} for {self.n_iter_no_change} consecutive epochs."
                    if solver.trigger_stopping(msg, self.verbose):
                        break
                    self._no_improvement_count = 0
                if incremental:
                    break
                if self.n_iter_ == self.max_iter:
                    warn(
                        f"Stochastic Optimizer: Maximum iterations ({self.max_iter}) reached and the optimization "
                        "hasn't converged yet.",
                        ConvergenceWarning,
                    )
        except KeyboardInterrupt:
            warn("Training interrupted by user.")
        if val is not None:
            model.assign(self._best_coefs, self._best_intercepts)

    def _update_no_improvement_count(self: Any, model: LinkModel, val: tuple | None) -> None:
        """scikit-learn's rule: count epochs whose loss (or validation score) did not improve by
        ``tol``; keep the best validation weights."""
        if val is None:
            if self.loss_curve_[-1] > self.best_loss_ - self.tol:
                self._no_improvement_count += 1
            else:
                self._no_improvement_count = 0
            if self.loss_curve_[-1] < self.best_loss_:
                self.best_loss_ = self.loss_curve_[-1]
            return
        X_val, y_val, sw_val = val
        score = self._score_predictions(to_numpy(model.predict(X_val)), y_val, sw_val)
        self.validation_scores_.append(score)
        if self.verbose:
            print(f"Validation score: {score:f}")
        if score < self.best_validation_score_ + self.tol:
            self._no_improvement_count += 1
        else:
            self._no_improvement_count = 0
        if score > self.best_validation_score_:
            self.best_validation_score_ = score
            self._best_coefs, self._best_intercepts = model.arrays(copy=True)
