"""scikit-learn's stochastic training loop (``_fit_stochastic``) on any backend: its shuffling
through the estimator's ``RandomState``, its batches, its early-stopping split, its stopping rule.

The data stay on the device; each epoch sends one permutation of indices there and reads one
loss back (and, with early stopping, the validation predictions, scored on the host with
scikit-learn's own metric so the score is scikit-learn's to the bit).
"""

from __future__ import annotations

from typing import Any

import numpy as np
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import train_test_split
from sklearn.utils import gen_batches, shuffle

from .._xp import to_numpy
from .alerts import warn
from .model import Model
from .solvers import Solver, make_solver


def make_optimizer(est: Any) -> Solver:
    """The estimator's solver (its NumPy-scalar settings as floats: array_api_strict's arithmetic
    takes Python scalars only)."""
    return make_solver(
        est.solver,
        float(est.learning_rate_init),
        est.learning_rate,
        float(est.momentum),
        bool(est.nesterovs_momentum),
        float(est.power_t),
        (float(est.beta_1), float(est.beta_2)),
        float(est.epsilon),
    )


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


def run_epoch(model: Model, data: tuple, order: np.ndarray | None, batch_size: int) -> Any:
    """One pass over the data in ``order`` (None: as stored); the sum of batch loss times batch size."""
    bk = model.bk
    X, y, sw = data
    n = X.shape[0]
    dev_order = None if order is None else bk.asarray(order)
    accumulated = None
    for batch in gen_batches(n, batch_size):
        if dev_order is None:
            Xb, yb, swb = X[batch, ...], y[batch, ...], None if sw is None else sw[batch]
        else:
            idx = dev_order[batch]
            Xb, yb, swb = take(bk, X, idx), take(bk, y, idx), take(bk, sw, idx)
        term = model.fit_batch(Xb, yb, swb) * (batch.stop - batch.start)
        accumulated = term if accumulated is None else accumulated + term
    return accumulated


def copies(model: Model, arrays: list) -> list:
    """Copies of ``arrays`` (the best weights kept for early stopping)."""
    return [model.xp.asarray(a, copy=True) for a in arrays]


class StochasticMixin:
    """The ``sgd``/``adam`` solvers' fit, for :class:`~portnn.sklearn.base.BaseMLP`."""

    _optimizer: Solver | None

    def _fit_stochastic(self: Any, model: Model, data: tuple, host: tuple, incremental: bool) -> None:
        """Train ``model`` on ``data = (X, y, sample_weight)`` (device arrays) for up to ``max_iter``
        epochs; ``host = (y, sample_weight)`` on the host, for the validation split and score."""
        bk = model.bk
        if not incremental or getattr(self, "_optimizer", None) is None:
            self._optimizer = make_optimizer(self)
        model.train(self._optimizer.to(bk).optimizer, compile=self._optimizer.lr_schedule != "invscaling")
        optimizer = self._optimizer
        if self.early_stopping and incremental:
            raise ValueError("partial_fit does not support early_stopping=True")
        X, y, sw = data
        val = None
        if self.early_stopping:
            stratify = host[0] if self._stratify_validation() else None
            idx_train, idx_val = split_validation(self._random_state, X.shape[0], self.validation_fraction, stratify)
            dev_train, dev_val = bk.asarray(idx_train), bk.asarray(idx_val)
            y_val = self._labels_for_score(host[0][idx_val])
            val = (take(bk, X, dev_val), y_val, None if host[1] is None else host[1][idx_val])
            X, y, sw = take(bk, X, dev_train), take(bk, y, dev_train), take(bk, sw, dev_train)
        n_samples = X.shape[0]
        batch_size = batch_size_for(self, n_samples)
        sample_idx = np.arange(n_samples, dtype=int)
        try:
            self.n_iter_ = 0
            for _ in range(self.max_iter):
                if self.shuffle:
                    sample_idx = shuffle(sample_idx, random_state=self._random_state)
                loss = run_epoch(model, (X, y, sw), sample_idx if self.shuffle else None, batch_size)
                self.n_iter_ += 1
                self.loss_ = to_numpy(loss / n_samples)[()]
                self.t_ += n_samples
                self.loss_curve_.append(self.loss_)
                if self.verbose:
                    print(f"Iteration {self.n_iter_}, loss = {self.loss_:.8f}")
                self._update_no_improvement_count(model, val)
                optimizer.iteration_ends(self.t_)
                if self._no_improvement_count > self.n_iter_no_change:
                    what = "Validation score" if val is not None else "Training loss"
                    msg = f"{what} did not improve more than tol={self.tol:f} for {self.n_iter_no_change} consecutive epochs."
                    if optimizer.trigger_stopping(msg, self.verbose):
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

    def _update_no_improvement_count(self: Any, model: Model, val: tuple | None) -> None:
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
            n = len(model.weights)
            self._best_coefs, self._best_intercepts = copies(model, model.params[:n]), copies(model, model.params[n:])
