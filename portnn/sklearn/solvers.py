"""scikit-learn's stochastic solvers on portnn's own optimizers: ``sgd`` is
:class:`portnn.optim.SGD` in its velocity form (``v = momentum * v - lr * g``; Nesterov applies it
twice), ``adam`` is :class:`portnn.optim.Adam` with ``eps_hat`` (epsilon outside the bias
correction). What stays here is scikit-learn's, not arithmetic: the learning-rate schedule
(``invscaling``, ``adaptive``) set on the optimizer between epochs, and its stopping hooks.

>>> import numpy as np
>>> from portnn import get_backend
>>> solver = make_solver("sgd", learning_rate_init=0.1, momentum=0.0).to(get_backend("numpy"))
>>> solver.step([np.zeros(2)], [np.ones(2)])[0]
array([-0.1, -0.1])
"""

from __future__ import annotations

from typing import Any

from .._xp import Backend, to_numpy
from ..nn.parameter import Parameter
from ..optim import SGD, Adam, Optimizer


class Solver:
    """A core optimizer driven as scikit-learn drives its ``SGDOptimizer`` / ``AdamOptimizer``.

    ``learning_rate`` is the optimizer's current ``lr`` (scikit-learn's tests and users read it
    from ``_optimizer``); the parameters are handed over as plain arrays at each step.
    """

    def __init__(self, optimizer: Optimizer, lr_schedule: str = "constant", power_t: float = 0.5) -> None:
        self.optimizer, self.lr_schedule, self.power_t = optimizer, lr_schedule, power_t
        self.learning_rate_init = optimizer.lr
        self.bk: Backend | None = None
        self.store: dict[str, Any] = {}
        self.grads: dict[str, Any] = {}

    @property
    def learning_rate(self) -> float:
        return self.optimizer.lr

    @learning_rate.setter
    def learning_rate(self, value: float) -> None:
        self.optimizer.lr = value

    def to(self, bk: Backend) -> Solver:
        """The optimizer's state moved onto ``bk`` (a no-op for arrays already there)."""
        state = self.optimizer.state
        for entries in state.values():
            for name, value in entries.items():
                entries[name] = bk.asarray(value, bk.dtype(to_numpy(value).dtype.name))
        self.bk, self.store, self.grads = bk, {}, {}
        return self

    def step(self, params: list, grads: list) -> list:
        """One update of ``params`` (weights, then biases) with ``grads``; the updated arrays (the
        same ones where arrays are writeable)."""
        keys = [str(i) for i in range(len(params))]
        if not self.store:
            assert self.bk is not None, "call to(bk) first"
            self.store, self.grads = dict(zip(keys, params)), dict(zip(keys, grads))
            self.optimizer.bind([Parameter(k, self.store, self.grads, k) for k in keys], self.bk)
        self.store.update(zip(keys, params))
        self.grads.update(zip(keys, grads))
        self.optimizer.step()
        return [self.store[k] for k in keys]

    def __getstate__(self) -> dict:
        return dict(self.__dict__, bk=None, store={}, grads={})  # the optimizer pickles its state as NumPy

    def iteration_ends(self, time_step: int) -> None:
        """Called after each epoch with the number of samples seen so far."""
        if self.lr_schedule == "invscaling":
            self.learning_rate = float(self.learning_rate_init) / (time_step + 1) ** self.power_t

    def trigger_stopping(self, msg: str, verbose: Any) -> bool:
        """True to stop training when the loss or score stopped improving; ``adaptive`` divides
        the learning rate by 5 instead, until it is 1e-6 or less."""
        if self.lr_schedule != "adaptive":
            if verbose:
                print(msg + " Stopping.")
            return True
        if self.learning_rate <= 1e-6:
            if verbose:
                print(msg + " Learning rate too small. Stopping.")
            return True
        self.learning_rate /= 5.0
        if verbose:
            print(msg + f" Setting learning rate to {self.learning_rate:f}")
        return False


def make_solver(
    solver: str,
    learning_rate_init: float,
    lr_schedule: str = "constant",
    momentum: float = 0.9,
    nesterov: bool = True,
    power_t: float = 0.5,
    betas: tuple[float, float] = (0.9, 0.999),
    epsilon: float = 1e-8,
) -> Solver:
    """scikit-learn's ``sgd`` or ``adam`` solver with these settings."""
    if solver == "sgd":
        # without momentum scikit-learn's Nesterov step is the plain one, which the core SGD takes
        sgd = SGD(lr=learning_rate_init, momentum=momentum, nesterov=nesterov and momentum > 0, velocity_form=True)
        return Solver(sgd, lr_schedule, power_t)
    return Solver(Adam(lr=learning_rate_init, betas=betas, eps=epsilon, eps_hat=True))
