"""The estimators' network, made of core parts: :class:`portnn.Dense` layers with the core
activations (the logistic one as ``Sigmoid(exact=True)``), scikit-learn's output function and loss
as :class:`~portnn.objectives.linkloss.LinkLoss` on the last layer's logits, its L2 term as the
:class:`~portnn.objectives.penalty.L2Penalty` gradient hook, trained by :class:`portnn.train.step.TrainStep`
(``sgd``, ``adam``) or evaluated by :func:`portnn.value_and_grad` (``lbfgs``). The backend's sums
over rows add them in order (:meth:`Backend.ordered_sums`), as ``np.mean(delta, 0)`` does.

A :class:`Model` is a training-time object, never stored on a fitted estimator (those keep plain
arrays).

>>> import numpy as np
>>> from portnn import get_backend
>>> model = Model(get_backend("numpy"), "float64", [np.ones((2, 1))], [np.zeros(1)], "relu", "identity")
>>> model.predict(np.array([[1.0, 2.0]])).tolist()
[[3.0]]
"""

from __future__ import annotations

from typing import Any

from .._xp import Backend
from ..nn.activations import Sigmoid
from ..nn.layers import Dense
from ..nn.network import Network
from ..objectives.linkloss import LinkLoss
from ..objectives.penalty import L2Penalty
from ..optim import Optimizer
from ..train.step import TrainStep, value_and_grad

Array = Any


class Model:
    """A core network with scikit-learn's weights ``coefs`` and ``intercepts`` on ``bk``."""

    def __init__(
        self,
        bk: Backend,
        dtype: str,
        coefs: list,
        intercepts: list,
        activation: str,
        out_activation: str,
        loss: str = "squared_error",
        alpha: float = 0.0,
    ) -> None:
        last = len(coefs) - 1  # zeros: nothing drawn, the weights are assigned next
        layers = [
            Dense(c.shape[0], c.shape[1], init="zeros", activation=None if i == last else hidden(activation))
            for i, c in enumerate(coefs)
        ]
        self.net = Network(*layers, backend=bk.ordered_sums(), dtype=dtype, seed=0)
        self.bk, self.xp = self.net.backend, self.net.xp
        self.weights = [p for p in self.net.parameters() if p.name.endswith(".weight")]
        self.biases = [p for p in self.net.parameters() if p.name.endswith(".bias")]
        self.assign(coefs, intercepts)
        self.penalty = L2Penalty(float(alpha), backend=self.bk)
        self.penalty.watch(self.weights)
        self.loss = LinkLoss(out_activation, loss, penalty=self.penalty, backend=self.bk)
        self.step: TrainStep | None = None

    @property
    def params(self) -> list:
        """Coefficients then intercepts (scikit-learn's order), the network's own arrays."""
        return [p.value for p in self.weights + self.biases]

    def assign(self, coefs: list, intercepts: list) -> None:
        """Take these weights and biases (arrays of any backend), in place where writeable."""
        bk, dtype = self.bk, self.net.dtype
        for p, a in zip(self.weights + self.biases, list(coefs) + list(intercepts)):
            p.value = bk.copy_into(p.value, bk.asarray(a, dtype))

    def predict(self, X: Array) -> Array:
        """The output function of the last layer's logits for ``X`` (on the network's backend)."""
        return self.loss.output(self.xp, self.net.forward(self.bk.asarray(X, self.net.dtype), False)[0])

    def train(self, optimizer: Optimizer, compile: bool = True) -> TrainStep:
        """The step that updates the network with ``optimizer`` (its state kept from earlier calls),
        compiled where the backend compiles and ``compile`` (a learning rate that changes every
        epoch would trace it again each time)."""
        optimizer.release()
        self.step = TrainStep(self.net, self.loss, optimizer, grad_hook=self.penalty, compile=compile)
        return self.step

    def fit_batch(self, X: Array, y: Array, sw: Array | None) -> Array:
        """One update on a batch; scikit-learn's batch loss (with its L2 term) as a 0-D array."""
        assert self.step is not None, "call train(optimizer) first"
        return self.step.run(X, y, sw)

    def loss_and_grads(self, X: Array, y: Array, sw: Array | None) -> tuple[Array, list]:
        """scikit-learn's loss (with its L2 term) and gradients, coefficients then intercepts."""
        value, _ = value_and_grad(self.net, self.loss, X, y, sample_weight=sw)
        self.penalty(self.net.parameters())
        return value, [p.grad for p in self.weights + self.biases]

    def all_finite(self) -> bool:
        xp = self.xp
        return all(self.bk.read(xp.all(xp.isfinite(p)), bool) for p in self.params)


def hidden(name: str) -> Any:
    """The core activation for scikit-learn's ``activation`` name (None: identity, no layer)."""
    if name == "logistic":
        return Sigmoid(exact=True)
    return None if name == "identity" else name
