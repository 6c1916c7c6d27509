"""An L2 penalty on the weights, applied to summed gradients in scikit-learn's order.

:class:`L2Penalty` is a ``grad_hook`` (see :class:`portnn.train.step.TrainStep`): with a loss whose
gradient is summed over the rows (:class:`portnn.objectives.linkloss.LinkLoss`) it turns each
weight's gradient ``g`` into ``(g + alpha * W) / n`` and every other parameter's into ``g / n``,
``n`` being the batch's row count or its weights' sum (:attr:`L2Penalty.divisor`, set before each
step), and it keeps the penalty ``0.5 * alpha * sum(||W||^2) / n`` of the weights the gradients
were taken at (:attr:`L2Penalty.value`). Weights are the parameters named ``*.weight`` (Dense's);
biases are not penalized. This is scikit-learn's MLP regularization, to the bit on NumPy.

>>> import portnn as pn
>>> net = pn.Sequential(pn.Dense(1, 1), backend="numpy", dtype="float64", seed=0)
>>> w, b = net.parameters()
>>> w.value[...], w.grad[...], b.grad[...] = 2.0, 4.0, 4.0
>>> penalty = L2Penalty(alpha=0.5)
>>> penalty.divisor = 2
>>> penalty(net.parameters())
>>> float(w.grad[0, 0]), float(b.grad[0]), float(penalty.value)
(2.5, 2.0, 0.5)
"""

from __future__ import annotations

from typing import Any

from .._xp import Backend, namespace_of, sum_of_squares

Array = Any


class L2Penalty:
    """``grad_hook``: scikit-learn's L2 term on the weights and its division by the row count."""

    def __init__(self, alpha: float, weight_suffix: str = ".weight", backend: Backend | None = None) -> None:
        if isinstance(alpha, bool) or not isinstance(alpha, (int, float)) or not alpha >= 0:
            raise ValueError(f"L2Penalty: alpha must be a number >= 0, got {alpha!r}")
        self.alpha, self.weight_suffix = float(alpha), weight_suffix
        self.divisor: Any = 1  # the batch's row count, or its weights' sum (a 0-D array)
        self.value: Any = 0.0
        self.xp: Any = None  # the parameters' namespace, looked up at the first call
        # given, the gradients are updated in place where its arrays are writeable (the network's
        # gradient buffers stay its own): the same numbers
        self.backend = backend

    def total(self, loss: Array) -> Array:
        """``loss`` plus the penalty of the last call (scikit-learn's loss with its L2 term)."""
        return loss + self.value

    def is_weight(self, parameter: Any) -> bool:
        return bool(parameter.name.endswith(self.weight_suffix))

    def __call__(self, parameters: list) -> None:
        weights = [p for p in parameters if self.is_weight(p)]
        if not weights:
            raise ValueError(f"L2Penalty: no parameter is named '*{self.weight_suffix}'")
        if self.xp is None:
            self.xp = namespace_of(weights[0].value)
        squares: Any = 0
        for p in weights:
            squares = squares + sum_of_squares(self.xp, p.value)
        self.value = (0.5 * self.alpha) * squares / self.divisor
        n, bk = self.divisor, self.backend
        for p in parameters:
            if bk is None:
                p.grad = (p.grad + self.alpha * p.value) / n if self.is_weight(p) else p.grad / n
            elif self.is_weight(p):
                p.grad = bk.idiv(bk.iadd(p.grad, self.alpha * p.value), n)
            else:
                p.grad = bk.idiv(p.grad, n)
