"""Losses on a network's logits through their canonical link, computed in scikit-learn's order.

:class:`LinkLoss` takes the last Dense layer's output ``z`` (the logits), applies the output function
(``link``: identity, logistic, softmax or exp) and computes scikit-learn's MLP losses on the result:
half squared error, half Poisson deviance, log loss with probabilities clipped to ``[eps, 1 - eps]``.
Its value is scikit-learn's (a mean over rows, weighted by the sample weights); its gradient is
scikit-learn's ``delta = link(z) - y`` (times each row's weight): the gradient summed over rows,
not averaged, so that a step can add a penalty and divide by the row count in scikit-learn's order
(see :class:`portnn.objectives.penalty.L2Penalty`, whose term it adds to the value when given
one). On NumPy every number is scikit-learn's to the
bit (SciPy's ``expit`` and ``xlogy``, :mod:`portnn._xp.special`); elsewhere equal up to rounding.

>>> import numpy as np
>>> loss = LinkLoss("logistic", "log_loss")
>>> value, delta = loss.value_and_grad(np, np.array([[0.0]]), np.array([[1.0]]))
>>> round(float(value), 6), delta.tolist()
(0.693147, [[-0.5]])
"""

from __future__ import annotations

from typing import Any, ClassVar

from .._xp import Backend, backend_of, expit, xlogy
from .lossbase import Loss
from .penalty import L2Penalty

Array = Any

LINKS = ("identity", "logistic", "softmax", "exp")
KINDS = ("squared_error", "poisson", "log_loss")


class LinkLoss(Loss):
    """scikit-learn's MLP loss ``kind`` on ``link(pred)``, ``pred`` being logits (see the module)."""

    from_logits = True
    probability_kind: ClassVar[str | None] = None

    def __init__(self, link: str, kind: str, penalty: L2Penalty | None = None, backend: Backend | None = None) -> None:
        if link not in LINKS:
            raise ValueError(f"LinkLoss: link must be one of {LINKS}, got {link!r}")
        if kind not in KINDS:
            raise ValueError(f"LinkLoss: kind must be one of {KINDS}, got {kind!r}")
        self.link_name, self.kind = link, kind
        self.penalty = penalty  # its L2 term added to the value (it records the row count for its hook)
        # per namespace, the backend the special functions ask for SciPy's (given: no lookup at all,
        # so that a compiled step can trace the loss)
        self.backends: dict[int, Backend] = {} if backend is None else {id(backend.xp): backend}
        self.name = "binary_log_loss" if kind == "log_loss" and link == "logistic" else kind

    def output(self, xp: Any, z: Array) -> Array:
        """``link(z)``: what the network predicts (probabilities for the log loss)."""
        if self.link_name == "logistic":
            return expit(self.backend(xp, z), z)
        if self.link_name == "exp":
            return xp.exp(z)
        if self.link_name == "softmax":
            e = xp.exp(z - xp.max(z, axis=1, keepdims=True))
            return e / xp.sum(e, axis=1, keepdims=True)
        return z

    def value_and_grad(self, xp: Any, pred: Array, target: Array, weight: Array | None = None) -> tuple[Array, Array]:
        prob = self.output(xp, pred)
        value = self.value(xp, prob, target, weight)
        if self.penalty is not None:
            value = self.penalty.added_to(value, pred.shape[0] if weight is None else xp.sum(weight))
        delta = prob - target
        if weight is not None:
            delta = delta * xp.reshape(weight, (-1, 1))
        return value, delta

    def value(self, xp: Any, prob: Array, y: Array, sw: Array | None) -> Array:
        """scikit-learn's loss (a 0-D array) of the outputs ``prob``, averaged over rows."""
        bk = self.backend(xp, prob)
        if self.name == "squared_error":
            return 0.5 * xp.mean(average(xp, (y - prob) ** 2, sw))
        if self.name == "poisson":
            return xp.sum(average(xp, xlogy(bk, y, y / prob) - y + prob, sw))
        eps = xp.finfo(prob.dtype).eps
        prob = xp.clip(prob, eps, 1 - eps)
        if self.name == "binary_log_loss":
            return -xp.sum(average(xp, xlogy(bk, y, prob) + xlogy(bk, 1 - y, 1 - prob), sw))
        if prob.shape[1] == 1:
            prob, y = xp.concat([1 - prob, prob], axis=1), xp.concat([1 - y, y], axis=1)
        return -xp.sum(average(xp, xlogy(bk, y, prob), sw))

    def backend(self, xp: Any, a: Array) -> Backend:
        """The backend of ``a``, looked up once per namespace ``xp``."""
        bk = self.backends.get(id(xp))
        if bk is None:
            bk = self.backends[id(xp)] = backend_of(a)
        return bk

    def __repr__(self) -> str:
        return f"LinkLoss({self.link_name!r}, {self.kind!r})"


def average(xp: Any, a: Array, sw: Array | None) -> Array:
    """``numpy.average(a, weights=sw, axis=0)``."""
    if sw is None:
        return xp.mean(a, axis=0)
    w = xp.reshape(sw, (-1, 1))
    return xp.sum(a * w, axis=0) / xp.sum(sw)
