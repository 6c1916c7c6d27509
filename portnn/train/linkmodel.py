"""LinkModel: a Dense network built from given weight and bias arrays and trained on scikit-learn's
MLP objective — :class:`~portnn.objectives.linkloss.LinkLoss` on the last layer's logits plus the
:class:`~portnn.objectives.penalty.L2Penalty` term — by a :class:`~portnn.train.step.TrainStep`
epoch by epoch, or evaluated as one flat vector for a SciPy optimizer.

The network's sums over rows add them in order (:meth:`Backend.ordered_sums`), as NumPy's
``mean(delta, 0)`` does, so that on NumPy the numbers are scikit-learn's to the bit. Flat vectors
hold all the weights, then all the biases (scikit-learn's packing), not the network's own order.

>>> import numpy as np
>>> model = LinkModel("numpy", "float64", [np.ones((2, 1))], [np.zeros(1)], link="identity")
>>> model.predict(np.array([[1.0, 2.0]])).tolist()
[[3.0]]
>>> model.assign_flat(np.array([1.0, -1.0, 0.5]))
>>> model.flat().tolist(), model.predict(np.array([[1.0, 2.0]])).tolist()
([1.0, -1.0, 0.5], [[-0.5]])
"""

from __future__ import annotations

import math
from typing import Any

from .._xp import Backend, get_backend
from ..nn.activations import Sigmoid
from ..nn.layers import Dense
from ..nn.network import Network
from ..objectives.linkloss import LinkLoss
from ..objectives.penalty import L2Penalty
from ..optim.base import Optimizer
from .batches import TrainingData, run_steps
from .step import TrainStep, value_and_grad

Array = Any


class LinkModel:
    """Dense layers of the shapes of ``weights`` (each ``(fan_in, fan_out)``) holding ``weights``
    and ``biases`` (arrays of any backend), ``activation`` between them, on ``backend`` in
    ``dtype``; its loss is ``LinkLoss(link, loss)`` with an L2 term of strength ``alpha``.

    ``activation`` is a core activation's name (``"relu"``, ``"tanh"``...) or scikit-learn's
    ``"identity"`` (none) or ``"logistic"`` (``Sigmoid(exact=True)``, scikit-learn's bits).
    """

    def __init__(
        self,
        backend: str | Backend,
        dtype: str,
        weights: list,
        biases: list,
        activation: str = "relu",
        link: str = "identity",
        loss: str = "squared_error",
        alpha: float = 0.0,
    ) -> None:
        bk, last = get_backend(backend), len(weights) - 1  # zeros: nothing drawn, the weights are set next
        layers = [
            Dense(w.shape[0], w.shape[1], init="zeros", activation=None if i == last else hidden(activation))
            for i, w in enumerate(weights)
        ]
        self.net = Network(*layers, backend=bk.ordered_sums(), dtype=dtype, seed=0)
        self.bk, self.xp = self.net.backend, self.net.xp
        self.penalty = L2Penalty(float(alpha), backend=self.bk)
        self.penalty.watch(self.net.parameters())
        rest = [p for p in self.net.parameters() if not self.penalty.is_weight(p)]
        self.params = self.penalty.weights + rest  # the flat order: weights, then biases
        self.assign(weights, biases)
        self.loss = LinkLoss(link, loss, penalty=self.penalty, backend=self.bk)
        self.step: TrainStep | None = None

    def arrays(self, copy: bool = False) -> tuple[list, list]:
        """(weights, biases): the network's own arrays, or copies of them."""
        values = [self.xp.asarray(p.value, copy=True) if copy else p.value for p in self.params]
        n = len(values) // 2
        return values[:n], values[n:]

    def assign(self, weights: list, biases: list) -> None:
        """Take these weights and biases (arrays of any backend), in place where writeable."""
        for p, a in zip(self.params, list(weights) + list(biases)):
            p.value = self.bk.copy_into(p.value, self.bk.asarray(a, self.net.dtype))

    def flat(self) -> Array:
        """All the weights then all the biases, flattened into one vector (on the backend)."""
        return self.xp.concat([self.xp.reshape(p.value, (-1,)) for p in self.params])

    def assign_flat(self, vector: Any) -> None:
        """Take the weights and biases from a vector laid out as :meth:`flat` (of any backend)."""
        xp, vector, start = self.xp, self.bk.asarray(vector, self.net.dtype), 0
        for p in self.params:
            stop = start + math.prod(p.value.shape)
            p.value = self.bk.copy_into(p.value, xp.reshape(vector[start:stop], p.value.shape))
            start = stop

    def predict(self, X: Array) -> Array:
        """The link of the last layer's logits for ``X`` (on the network's backend)."""
        return self.loss.output(self.xp, self.net.forward(self.bk.asarray(X, self.net.dtype), False)[0])

    def train(self, optimizer: Optimizer, compile: bool = True) -> TrainStep:
        """The step that updates the network with ``optimizer``, its state kept from earlier calls
        (of this model or another one of the same shapes: :meth:`Optimizer.release`)."""
        optimizer.release()
        self.step = TrainStep(self.net, self.loss, optimizer, grad_hook=self.penalty, compile=compile)
        return self.step

    def epoch(self, data: TrainingData, order: Array | None = None) -> Array:
        """One step of :meth:`train`'s per batch of ``data`` (its rows taken in ``order``, device
        indices, when given); scikit-learn's epoch loss: the batch losses (each with its L2 term)
        times their row counts, summed in order and divided by the row count (a 0-D array)."""
        assert self.step is not None, "call train(optimizer) first"
        run, total = self.step.run, None
        with self.bk.serial():  # small products: one thread is faster than waking several
            if order is None:
                losses = run_steps(run, data.X, data.y, data.w, data.batches)
            else:
                losses = data.shuffled_steps(self.xp, run, order)
            for value, (a, b) in zip(losses, data.batches):
                total = value * (b - a) if total is None else total + value * (b - a)
        return total / data.n

    def loss_and_flat_grad(self, X: Array, y: Array, sw: Array | None = None) -> tuple[Array, Array]:
        """The loss (with its L2 term) and its gradient laid out as :meth:`flat`, on the backend."""
        value, _ = value_and_grad(self.net, self.loss, X, y, sample_weight=sw)
        self.penalty(self.net.parameters())
        return value, self.xp.concat([self.xp.reshape(p.grad, (-1,)) for p in self.params])

    def all_finite(self) -> bool:
        """Whether every weight and bias is finite."""
        xp = self.xp
        return all(self.bk.read(xp.all(xp.isfinite(p.value)), bool) for p in self.params)


def hidden(activation: str) -> Any:
    """Dense's ``activation`` for a hidden layer: scikit-learn's names mapped (see LinkModel)."""
    if activation == "logistic":
        return Sigmoid(exact=True)
    return None if activation == "identity" else activation
