"""scikit-learn's stochastic solvers on portnn's own optimizers: ``sgd`` is
:class:`portnn.optim.SGD` in its velocity form (``v = momentum * v - lr * g``; Nesterov applies it
twice), ``adam`` is :class:`portnn.optim.Adam` with ``eps_hat`` (epsilon outside the bias
correction). What stays here is scikit-learn's, not arithmetic: the learning-rate schedule
(``invscaling``, ``adaptive``) set on the optimizer between epochs, and its stopping hooks.

>>> solver = make_solver("sgd", learning_rate_init=0.1, lr_schedule="invscaling", momentum=0.0)
>>> solver.iteration_ends(time_step=99)
>>> solver.learning_rate
0.01
"""

from __future__ import annotations

from typing import Any

from .._xp import Backend, to_numpy
from ..optim import SGD, Adam, Optimizer


class Solver:
    """A core optimizer driven as scikit-learn drives its ``SGDOptimizer`` / ``AdamOptimizer``.

    ``learning_rate`` is the optimizer's current ``lr`` (scikit-learn's tests and users read it
    from ``_optimizer``); the optimizer itself updates the estimator's network in its TrainStep.
    """

    def __init__(self, optimizer: Optimizer, lr_schedule: str = "constant", power_t: float = 0.5) -> None:
        self.optimizer, self.lr_schedule, self.power_t = optimizer, lr_schedule, power_t
        self.learning_rate_init = optimizer.lr

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
        return self

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
