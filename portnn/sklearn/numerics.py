"""scikit-learn's MLP arithmetic, written once against the Array API: forward pass, losses and
backprop in the order ``sklearn.neural_network`` computes them, so the numbers agree to rounding.

A :class:`Net` holds the weights of one network on one backend; it is a training-time object and
never stored on a fitted estimator (those keep plain arrays).

>>> import numpy as np
>>> from portnn import get_backend
>>> net = Net(get_backend("numpy"), [np.ones((2, 1))], [np.zeros(1)], "relu", "identity", alpha=0.0)
>>> X, y = np.array([[1.0, 2.0]]), np.array([[3.0]])
>>> float(net.backprop(X, y, None, "squared_error")[0])
0.0
"""

from __future__ import annotations

from typing import Any

from .._xp import Backend, expit, sum_of_squares, xlogy

Array = Any


class Net:
    """Weights and biases on ``bk`` with scikit-learn's forward pass and backprop."""

    def __init__(
        self, bk: Backend, coefs: list, intercepts: list, activation: str, out_activation: str, alpha: float
    ) -> None:
        self.bk, self.xp = bk, bk.xp
        self.coefs = [bk.asarray(c) for c in coefs]
        self.intercepts = [bk.asarray(b) for b in intercepts]
        self.activation, self.out_activation, self.alpha = activation, out_activation, alpha

    @property
    def params(self) -> list:
        """Coefficients then intercepts, the order scikit-learn's optimizers update them in."""
        return self.coefs + self.intercepts

    def set_params(self, params: list) -> None:
        """Take the flat list of :attr:`params` (weights, then biases) back."""
        n = len(self.coefs)
        self.coefs, self.intercepts = list(params[:n]), list(params[n:])

    def activate(self, z: Array, name: str) -> Array:
        """scikit-learn's hidden activation ``name`` of ``z``."""
        xp = self.xp
        if name == "relu":
            return self.bk.maximum(z, 0.0)
        if name == "tanh":
            return xp.tanh(z)
        if name == "logistic":
            return expit(self.bk, z)
        if name == "exp":
            return xp.exp(z)
        if name == "softmax":
            e = xp.exp(z - xp.max(z, axis=1, keepdims=True))
            return e / xp.sum(e, axis=1, keepdims=True)
        return z

    def forward(self, X: Array) -> list:
        """Every layer's activations, ``X`` first."""
        activations = [X]
        last = len(self.coefs) - 1
        for i, (w, b) in enumerate(zip(self.coefs, self.intercepts)):
            z = activations[-1] @ w + b
            activations.append(self.activate(z, self.out_activation if i == last else self.activation))
        return activations

    def derivative(self, a: Array, delta: Array) -> Array:
        """``delta`` times the hidden activation's derivative, from its output ``a``."""
        if self.activation == "relu":
            return self.xp.where(a == 0, self.xp.zeros_like(delta), delta)
        if self.activation == "tanh":
            return delta * (1 - a**2)
        if self.activation == "logistic":
            return delta * a * (1 - a)
        return delta

    def loss(self, y: Array, prob: Array, sw: Array | None, name: str) -> Array:
        """scikit-learn's data loss (a 0-D array): half squared error, half Poisson deviance or
        log loss, averaged over samples (weighted by ``sw``)."""
        xp = self.xp
        if name == "squared_error":
            return 0.5 * xp.mean(average(xp, (y - prob) ** 2, sw))
        if name == "poisson":
            return xp.sum(average(xp, xlogy(self.bk, y, y / prob) - y + prob, sw))
        eps = xp.finfo(prob.dtype).eps
        prob = xp.clip(prob, eps, 1 - eps)
        if name == "binary_log_loss":
            return -xp.sum(average(xp, xlogy(self.bk, y, prob) + xlogy(self.bk, 1 - y, 1 - prob), sw))
        if prob.shape[1] == 1:
            prob, y = xp.concat([1 - prob, prob], axis=1), xp.concat([1 - y, y], axis=1)
        return -xp.sum(average(xp, xlogy(self.bk, y, prob), sw))

    def backprop(self, X: Array, y: Array, sw: Array | None, loss_name: str) -> tuple[Array, list, list]:
        """Loss (with the L2 term) and the gradients of coefficients and intercepts."""
        xp = self.xp
        activations = self.forward(X)
        if loss_name == "log_loss" and self.out_activation == "logistic":
            loss_name = "binary_log_loss"
        loss = self.loss(y, activations[-1], sw, loss_name)
        penalty = sum(sum_of_squares(xp, w) for w in self.coefs)
        sw_sum = X.shape[0] if sw is None else xp.sum(sw)
        loss = loss + 0.5 * self.alpha * penalty / sw_sum
        delta = activations[-1] - y
        if sw is not None:
            delta = delta * xp.reshape(sw, (-1, 1))
        coef_grads: list = [None] * len(self.coefs)
        intercept_grads: list = [None] * len(self.coefs)
        for i in range(len(self.coefs) - 1, -1, -1):
            grad = activations[i].T @ delta
            grad = grad + self.alpha * self.coefs[i]
            coef_grads[i] = grad / sw_sum
            intercept_grads[i] = xp.sum(delta, axis=0) / sw_sum
            if i:
                delta = self.derivative(activations[i], delta @ self.coefs[i].T)
        return loss, coef_grads, intercept_grads

    def all_finite(self) -> bool:
        xp = self.xp
        return all(self.bk.read(xp.all(xp.isfinite(p)), bool) for p in self.params)


def average(xp: Any, a: Array, sw: Array | None) -> Array:
    """``numpy.average(a, weights=sw, axis=0)``."""
    if sw is None:
        return xp.mean(a, axis=0)
    w = xp.reshape(sw, (-1, 1))
    return xp.sum(a * w, axis=0) / xp.sum(sw)
