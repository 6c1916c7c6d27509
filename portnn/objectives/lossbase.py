"""The loss contract (:class:`Loss`), its registry by name, and the checks and the per-sample
weighting that every loss shares. The losses themselves are in :mod:`portnn.objectives.losses`.

Every loss is a mean over samples. With per-sample weights ``w`` it is the weighted mean
``sum_i w_i l_i / sum_i w_i`` of the rows' losses ``l_i``, so that weight 2 on a row is that row
counted twice: the same value and gradient as the batch with the row duplicated.
"""

from __future__ import annotations

import math
from typing import Any, ClassVar

from .._checks import by_name
from .._xp import namespace_of, to_numpy

Array = Any


LOSSES: dict[str, Any] = {}  # name -> class; every subclass with a name registers itself


class Loss:
    """Base class: subclasses implement ``value_and_grad(xp, pred, target, weight=None) -> (value, grad)``."""

    name = ""
    takes_labels = False  # class labels of shape (n,) are accepted for (n, k) predictions
    # What the model must output when the loss does not take logits: "probability" (each value in
    # [0, 1]), "distribution" (rows of probabilities summing to 1), or None (any real numbers).
    # fit checks it against the model's last layer before training (see portnn.objectives.misuse).
    probability_kind: ClassVar[str | None] = None
    link: ClassVar[str] = ""  # what the loss applies to logits itself (from_logits=True): "softmax"

    def __init_subclass__(cls, **kwargs: Any) -> None:
        """A subclass with a ``name`` is registered under it: ``loss="my_loss"`` finds it."""
        super().__init_subclass__(**kwargs)
        if cls.__dict__.get("name"):
            LOSSES[cls.name] = cls

    def __call__(self, pred: Array, target: Array, weight: Array | None = None) -> Array:
        value = self._checked_forward(pred, target, weight)[0]
        return namespace_of(pred).asarray(value)  # NumPy reductions give scalars: make it 0-D

    def grad(self, pred: Array, target: Array, weight: Array | None = None) -> Array:
        """Gradient of the loss with respect to ``pred``."""
        return self._checked_forward(pred, target, weight)[1]

    def _checked_forward(self, pred: Array, target: Array, weight: Array | None = None) -> tuple[Array, Array]:
        xp = namespace_of(pred)
        if not is_floating(xp, pred.dtype):
            raise TypeError(f"{self.name}: predictions must be real floating point, got {pred.dtype}")
        for what, x in (("target", target), ("weight", weight)):
            if x is not None and namespace_of(x) is not xp:
                raise TypeError(f"{self.name}: {what} is a {type(x).__name__}, predictions a {type(pred).__name__}")
        self.check_pred(pred)
        target = self.prepare_target(xp, target, pred.shape, pred.dtype)
        if weight is None:
            return self.value_and_grad(xp, pred, target)
        if tuple(weight.shape) != (pred.shape[0],):
            raise ValueError(f"{self.name}: weight must have shape ({pred.shape[0]},), got {tuple(weight.shape)}")
        return self.value_and_grad(xp, pred, target, weight)

    def expects(self) -> str | None:
        """What the model must output: ``"logits"`` (a loss with ``from_logits=True``), else
        :attr:`probability_kind` (``None``: anything real)."""
        return "logits" if getattr(self, "from_logits", False) else self.probability_kind

    def check_pred(self, pred: Array) -> None:
        """Reject predictions the loss is not defined for (probabilities outside [0, 1], say)."""

    def prepare_target(self, xp: Any, target: Array, pred_shape: tuple, dtype: Any) -> Array:
        """Check ``target`` against the predictions' shape; return it in the form computed with.

        Done once per fit, not per step. Shapes must match exactly: ``(n, 1)`` is never broadcast
        against ``(n,)``.
        """
        check_same_shape(self.name, pred_shape, target.shape)
        return target if target.dtype == dtype else xp.astype(target, dtype)

    def value_and_grad(self, xp: Any, pred: Array, target: Array, weight: Array | None = None) -> tuple[Array, Array]:
        """Value and gradient together; ``target`` must already be prepared (see above).

        ``weight``, when given, holds one weight per row of ``pred`` (a 1-D array of its dtype):
        the value is then the weighted mean of the rows' losses (see :func:`row_scale`). Training
        passes it only when there are weights, so a loss of your own without the argument still
        trains without them. Subclasses implement this; it is what training calls, once per step,
        unchecked.
        """
        raise NotImplementedError

    def __repr__(self) -> str:
        return f"{type(self).__name__}()"


def row_scale(xp: Any, weight: Array, pred: Array, per_element: bool = True) -> Array:
    """Each row's factor in the weighted mean ``sum_i w_i l_i / sum_i w_i``: ``w_i / sum(w)``,
    further divided by the number of values in a row when ``l_i`` is their mean
    (``per_element``), shaped to broadcast against ``pred``. A loss multiplies its per-element
    terms (and their gradients) by it where the unweighted loss divides by their count. A batch
    whose weights are all zero counts for nothing: zeros, not NaN.
    """
    per_row = math.prod(pred.shape[1:]) if per_element else 1
    total = xp.sum(weight)
    total = xp.where(total > 0.0, total, 1.0)
    return xp.reshape(weight, (pred.shape[0],) + (1,) * (len(pred.shape) - 1)) / (total * per_row)


def is_floating(xp: Any, dtype: Any) -> bool:
    return bool(xp.isdtype(dtype, "real floating"))


def check_same_shape(name: str, pred_shape: tuple, target_shape: tuple) -> None:
    if tuple(pred_shape) != tuple(target_shape):
        raise ValueError(
            f"{name}: target shape {tuple(target_shape)} differs from prediction shape "
            f"{tuple(pred_shape)}; reshape the target (no silent broadcasting)"
        )


def check_in_unit_interval(name: str, what: str, x: Array) -> None:
    host = to_numpy(x, copy=False)
    bad = (host < 0) | (host > 1)
    if bad.any():
        row = int(bad.reshape(host.shape[0], -1).any(axis=1).argmax())
        raise ValueError(f"{name}: {what} must lie in [0, 1]; row {row} has {host[row].tolist()}")


def get_loss(loss: str | Loss) -> Loss:
    """A loss by name (``"mse"``) or the object itself."""
    return by_name("loss", loss, Loss, LOSSES)  # type: ignore[no-any-return]
