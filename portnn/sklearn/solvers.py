"""scikit-learn's solvers around a :class:`~portnn.train.linkmodel.LinkModel` on any backend.

``sgd`` and ``adam``: scikit-learn's ``_fit_stochastic`` (shuffling through the estimator's
``RandomState``, batches, early-stopping split, stopping rule) over the model's epochs, with
:class:`portnn.optim.SGD` in its velocity form and :class:`portnn.optim.Adam` with ``eps_hat``.
Each epoch sends one permutation of indices to the device and reads one loss back (with early
stopping, also the validation predictions, scored on the host by scikit-learn's own metric).
``lbfgs``: ``scipy.optimize.minimize(method="L-BFGS-B")`` on the host driving the model's loss and
flat gradient, as scikit-learn's ``_fit_lbfgs`` does. Warnings go through :func:`portnn.alerts.warn`,
so that filters on scikit-learn's MLP module or on portnn's apply to them.
"""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np
import scipy.optimize
from sklearn.base import is_classifier
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import train_test_split
from sklearn.neural_network._stochastic_optimizers import AdamOptimizer, SGDOptimizer
from sklearn.utils import shuffle
from sklearn.utils.optimize import _check_optimize_result

from .. import alerts
from .._xp import to_numpy
from ..objectives.weights import RowWeights
from ..optim import SGD, Adam, Optimizer
from ..train.batches import TrainingData
from ..train.linkmodel import LinkModel

#: portnn's module name, and the one scikit-learn raises its MLP's warnings from.
MODULES = ("portnn.sklearn", "sklearn.neural_network._multilayer_perceptron")


def warn(message: str, category: type[Warning] = UserWarning) -> None:
    alerts.warn(message, category, MODULES)


def make_optimizers(est: Any) -> tuple[Any, Optimizer]:
    """scikit-learn's own optimizer object, which keeps the learning rate by its rules (the
    ``invscaling`` schedule, the ``adaptive`` stopping rule; scikit-learn's tests read it as
    ``_optimizer.learning_rate``), and the core optimizer in scikit-learn's form that updates the
    weights at that rate (the settings as Python floats: array_api_strict's arithmetic takes no
    NumPy scalars)."""
    lr = float(est.learning_rate_init)
    if est.solver == "adam":
        adam = Adam(lr=lr, betas=(float(est.beta_1), float(est.beta_2)), eps=float(est.epsilon), eps_hat=True)
        return AdamOptimizer([], est.learning_rate_init, est.beta_1, est.beta_2, est.epsilon), adam
    # without momentum scikit-learn's Nesterov step is the plain one, which the core SGD takes
    nesterov = bool(est.nesterovs_momentum) and est.momentum > 0
    sgd = SGD(lr=lr, momentum=float(est.momentum), nesterov=nesterov, velocity_form=True)
    settings = (est.learning_rate, est.momentum, est.nesterovs_momentum, est.power_t)
    return SGDOptimizer([], est.learning_rate_init, *settings), sgd


def batch_size_for(est: Any, n_samples: int) -> int:
    """The batch size scikit-learn uses: ``"auto"`` is min(200, n), others clipped to [1, n]."""
    if est.batch_size == "auto":
        return min(200, n_samples)
    if est.batch_size > n_samples:
        warn("Got `batch_size` less than 1 or larger than sample size. It is going to be clipped")
    return int(np.clip(est.batch_size, 1, n_samples))


class StochasticMixin:
    """The ``sgd``/``adam`` solvers' fit, for :class:`~portnn.sklearn.base.BaseMLP`."""

    _optimizer: Any
    _core_optimizer: Optimizer

    def _fit_stochastic(self: Any, model: LinkModel, data: list, host: tuple, incremental: bool) -> None:
        """Train ``model`` on ``data = [X, y, sample_weight]`` (device arrays) for up to ``max_iter``
        epochs; ``host = (y, sample_weight)`` on the host, for the validation split and score."""
        if self.early_stopping and incremental:
            raise ValueError("partial_fit does not support early_stopping=True")
        if not incremental or getattr(self, "_optimizer", None) is None:
            self._optimizer, self._core_optimizer = make_optimizers(self)
        solver, optimizer, bk = self._optimizer, self._core_optimizer, model.bk
        optimizer.move(bk, data[0].dtype)
        model.train(optimizer)  # compiled where the backend compiles: lr is an input of the step
        (X, y, sw), sw_host, val = self._holdout(bk, data, host) if self.early_stopping else (data, host[1], None)
        weights = None if sw is None else RowWeights(sw_host, sw)
        batches = TrainingData(X, y, weights, batch_size_for(self, X.shape[0]), self.shuffle)
        sample_idx = np.arange(X.shape[0], dtype=int)
        try:
            self.n_iter_ = 0
            for _ in range(self.max_iter):
                if self.shuffle:
                    sample_idx = shuffle(sample_idx, random_state=self._random_state)
                optimizer.lr = float(solver.learning_rate)
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

    def _holdout(self: Any, bk: Any, data: list, host: tuple) -> tuple:
        """scikit-learn's early-stopping split: the training rows on the device, their host sample
        weights, and the validation (X on the device, host labels and sample weights)."""
        classifier, (y_host, sw_host), xp = is_classifier(self), host, bk.xp
        stratify = y_host if classifier and self.n_outputs_ == 1 else None
        rows, fraction = np.arange(data[0].shape[0]), self.validation_fraction
        train, held = train_test_split(rows, random_state=self._random_state, test_size=fraction, stratify=stratify)
        if held.shape[0] < 2:
            raise ValueError(
                "The validation set is too small. Increase 'validation_fraction' or the size of your dataset."
            )
        y_val = self._label_binarizer.inverse_transform(y_host[held]) if classifier else y_host[held]
        sw_train, sw_val = (None, None) if sw_host is None else (sw_host[train], sw_host[held])
        dev_train = bk.asarray(train)
        val = (xp.take(data[0], bk.asarray(held), axis=0), y_val, sw_val)
        return [None if a is None else xp.take(a, dev_train, axis=0) for a in data], sw_train, val

    def _update_no_improvement_count(self: Any, model: LinkModel, val: tuple | None) -> None:
        """scikit-learn's rule: count epochs whose loss (or validation score) did not improve by
        ``tol``; keep the best validation weights."""
        if val is None:
            loss = self.loss_curve_[-1]
            worse, self.best_loss_ = loss > self.best_loss_ - self.tol, min(self.best_loss_, loss)
        else:
            score = self._score_predictions(to_numpy(model.predict(val[0])), *val[1:])
            self.validation_scores_.append(score)
            if self.verbose:
                print(f"Validation score: {score:f}")
            worse = score < self.best_validation_score_ + self.tol
            if score > self.best_validation_score_:
                self.best_validation_score_ = score
                self._best_coefs, self._best_intercepts = model.arrays(copy=True)
        self._no_improvement_count = self._no_improvement_count + 1 if worse else 0


class LbfgsMixin:
    """The ``lbfgs`` solver's fit, for :class:`~portnn.sklearn.base.BaseMLP`."""

    def _fit_lbfgs(self: Any, model: LinkModel, data: list) -> None:
        """Fit ``model`` (float64 where the backend has it: SciPy's parameters are) on ``data``."""

        def loss_grad(packed: np.ndarray) -> tuple[Any, np.ndarray]:
            model.assign_flat(packed)
            loss, grad = model.loss_and_flat_grad(*data)
            return to_numpy(loss)[()], to_numpy(grad)

        options = {"maxfun": self.max_fun, "maxiter": self.max_iter, "gtol": self.tol}
        x0 = to_numpy(model.flat())
        result = scipy.optimize.minimize(loss_grad, x0, method="L-BFGS-B", jac=True, options=options)
        with warnings.catch_warnings(record=True) as caught:  # scikit-learn's check, its warning raised as ours
            warnings.simplefilter("always")
            self.n_iter_ = _check_optimize_result("lbfgs", result, self.max_iter)
        for w in caught:
            warn(str(w.message), w.category)
        self.loss_ = result.fun
        model.assign_flat(result.x)
