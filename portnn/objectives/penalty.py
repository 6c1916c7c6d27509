"""An L2 penalty on the weights, applied to summed gradients in scikit-learn's order.

:class:`L2Penalty` has two halves. Given to a loss whose gradient is summed over the rows
(:class:`portnn.objectives.linkloss.LinkLoss`), the loss adds ``0.5 * alpha * sum(||W||^2) / n``
to its value (:meth:`L2Penalty.added_to`, which also records ``n``, the batch's row count or its
weights' sum); as the step's ``grad_hook`` (see :class:`portnn.train.step.TrainStep`) it turns each
weight's gradient ``g`` into ``(g + alpha * W) / n`` and every other parameter's into ``g / n``.
Weights are the parameters named ``*.weight`` (Dense's, :meth:`L2Penalty.watch`); biases are not
penalized. This is scikit-learn's MLP regularization, to the bit on NumPy. Both halves compute on
the arrays they are given only, so a compiled step can trace them (``traceable``).

>>> import portnn as pn
>>> net = pn.Sequential(pn.Dense(1, 1), backend="numpy", dtype="float64", seed=0)
>>> w, b = net.parameters()
>>> w.value[...], w.grad[...], b.grad[...] = 2.0, 4.0, 4.0
>>> penalty = L2Penalty(alpha=0.5)
>>> penalty.watch(net.parameters())
>>> float(penalty.added_to(1.0, divisor=2))
1.5
>>> penalty(net.parameters())
>>> float(w.grad[0, 0]), float(b.grad[0])
(2.5, 2.0)
"""

from __future__ import annotations

from typing import Any

from .._xp import Backend, namespace_of, sum_of_squares

Array = Any


class L2Penalty:
    """scikit-learn's L2 term on the weights and its division by the row count (see the module).

    With ``backend``, the hook updates the gradients in place where its arrays are writeable (the
    network's gradient buffers stay its own): the same numbers.
    """

    traceable = True  # TrainStep may compile a step with this hook

    def __init__(self, alpha: float, weight_suffix: str = ".weight", backend: Backend | None = None) -> None:
        if isinstance(alpha, bool) or not isinstance(alpha, (int, float)) or not alpha >= 0:
            raise ValueError(f"L2Penalty: alpha must be a number >= 0, got {alpha!r}")
        self.alpha, self.weight_suffix, self.backend = float(alpha), weight_suffix, backend
        self.divisor: Any = 1  # the batch's row count, or its weights' sum (a 0-D array)
        self.weights: list = []

    def is_weight(self, parameter: Any) -> bool:
        return bool(parameter.name.endswith(self.weight_suffix))

    def watch(self, parameters: list) -> None:
        """Penalize the weights among ``parameters`` (a network's :meth:`parameters`)."""
        self.weights = [p for p in parameters if self.is_weight(p)]
        if not self.weights:
            raise ValueError(f"L2Penalty: no parameter is named '*{self.weight_suffix}'")

    def added_to(self, loss: Array, divisor: Any) -> Array:
        """``loss + 0.5 * alpha * sum(||W||^2) / divisor`` (scikit-learn's loss with its L2 term);
        the hook divides the gradients by ``divisor`` next."""
        self.divisor = divisor
        xp = self.backend.xp if self.backend is not None else namespace_of(self.weights[0].value)
        squares: Any = 0
        for p in self.weights:
            squares = squares + sum_of_squares(xp, p.value)
        return loss + (0.5 * self.alpha) * squares / divisor

    def __call__(self, parameters: list) -> None:
        n, bk = self.divisor, self.backend
        for p in parameters:
            if bk is None:
                p.grad = (p.grad + self.alpha * p.value) / n if self.is_weight(p) else p.grad / n
            elif self.is_weight(p):
                p.grad = bk.idiv(bk.iadd(p.grad, self.alpha * p.value), n)
            else:
                p.grad = bk.idiv(p.grad, n)
