"""scikit-learn's stochastic optimizers (``sklearn.neural_network._stochastic_optimizers``) on any
backend: its SGD velocity form (momentum, Nesterov, ``invscaling``/``adaptive`` schedules) and its
Adam (epsilon added after the bias-corrected step size). Their state is plain arrays, which
:meth:`Optimizer.to` moves between backends so that a fitted estimator keeps it for
``partial_fit`` and still pickles.

>>> import numpy as np
>>> from portnn import get_backend
>>> opt = SGDOptimizer([np.zeros(2)], learning_rate_init=0.1, momentum=0.0).to(get_backend("numpy"))
>>> opt.step([np.zeros(2)], [np.ones(2)])[0]
array([-0.1, -0.1])
"""

from __future__ import annotations

import math
from typing import Any

from .._xp import Backend, namespace_of, to_numpy


class Optimizer:
    """What both optimizers share: the learning rate, the schedule hooks, the state's moves."""

    state_names: tuple[str, ...] = ()

    def __init__(self, learning_rate_init: float) -> None:
        self.learning_rate_init = learning_rate_init
        self.learning_rate = float(learning_rate_init)
        self.bk: Backend | None = None

    def to(self, bk: Backend) -> Optimizer:
        """Move the state arrays onto ``bk`` (a no-op for arrays already there)."""
        for name in self.state_names:
            setattr(self, name, [bk.asarray(a) for a in getattr(self, name)])
        self.bk = bk
        return self

    def __getstate__(self) -> dict:
        # The state pickles as host arrays, never as the backend it was last used on.
        state = dict(self.__dict__, bk=None)
        for name in self.state_names:
            state[name] = [to_numpy(a) for a in state[name]]
        return state

    def step(self, params: list, grads: list) -> list:
        """``param + update`` for each parameter (in place where arrays are writeable)."""
        assert self.bk is not None, "call to(bk) first"
        return [self.bk.iadd(p, u) for p, u in zip(params, self.updates(grads))]

    def updates(self, grads: list) -> list:
        raise NotImplementedError

    def iteration_ends(self, time_step: int) -> None:
        """Called after each epoch with the number of samples seen so far."""

    def trigger_stopping(self, msg: str, verbose: Any) -> bool:
        """True to stop training when the loss or score stopped improving."""
        if verbose:
            print(msg + " Stopping.")
        return True


class SGDOptimizer(Optimizer):
    """scikit-learn's ``SGDOptimizer``: ``v = momentum * v - lr * g``; Nesterov applies it twice."""

    state_names = ("velocities",)

    def __init__(
        self,
        params: list,
        learning_rate_init: float = 0.1,
        lr_schedule: str = "constant",
        momentum: float = 0.9,
        nesterov: bool = True,
        power_t: float = 0.5,
    ) -> None:
        super().__init__(learning_rate_init)
        self.lr_schedule, self.momentum, self.nesterov, self.power_t = lr_schedule, momentum, nesterov, power_t
        self.velocities = zeros_like(params)

    def iteration_ends(self, time_step: int) -> None:
        if self.lr_schedule == "invscaling":
            self.learning_rate = float(self.learning_rate_init) / (time_step + 1) ** self.power_t

    def trigger_stopping(self, msg: str, verbose: Any) -> bool:
        if self.lr_schedule != "adaptive":
            return super().trigger_stopping(msg, verbose)
        if self.learning_rate <= 1e-6:
            if verbose:
                print(msg + " Learning rate too small. Stopping.")
            return True
        self.learning_rate /= 5.0
        if verbose:
            print(msg + f" Setting learning rate to {self.learning_rate:f}")
        return False

    def updates(self, grads: list) -> list:
        lr, momentum = self.learning_rate, self.momentum
        updates = [momentum * v - lr * g for v, g in zip(self.velocities, grads)]
        self.velocities = updates
        if self.nesterov:
            updates = [momentum * v - lr * g for v, g in zip(self.velocities, grads)]
        return updates


class AdamOptimizer(Optimizer):
    """scikit-learn's ``AdamOptimizer``: ``-lr_t * m / (sqrt(v) + epsilon)``."""

    state_names = ("ms", "vs")

    def __init__(
        self,
        params: list,
        learning_rate_init: float = 0.001,
        beta_1: float = 0.9,
        beta_2: float = 0.999,
        epsilon: float = 1e-8,
    ) -> None:
        super().__init__(learning_rate_init)
        self.beta_1, self.beta_2, self.epsilon = beta_1, beta_2, epsilon
        self.t = 0
        self.ms, self.vs = zeros_like(params), zeros_like(params)

    def updates(self, grads: list) -> list:
        assert self.bk is not None
        xp, b1, b2 = self.bk.xp, self.beta_1, self.beta_2
        self.t += 1
        self.ms = [b1 * m + (1 - b1) * g for m, g in zip(self.ms, grads)]
        self.vs = [b2 * v + (1 - b2) * g**2 for v, g in zip(self.vs, grads)]
        self.learning_rate = self.learning_rate_init * math.sqrt(1 - b2**self.t) / (1 - b1**self.t)
        return [-self.learning_rate * m / (xp.sqrt(v) + self.epsilon) for m, v in zip(self.ms, self.vs)]


def zeros_like(params: list) -> list:
    """A zero array shaped like each of ``params``, in its namespace (the optimizers' state)."""
    return [namespace_of(p).zeros_like(p) for p in params]
