"""Losses. Each is an average over samples that depends only on the network's output.

``loss(pred, target)`` returns a 0-D array on pred's backend, ``loss.grad(pred, target)`` an array
shaped like ``pred``; training calls the fused ``value_and_grad`` so shared work is done once.
"""

from __future__ import annotations

import math
from typing import Any, ClassVar

from . import _math
from ._checks import by_name
from ._xp import namespace_of, sum_of_squares, to_numpy

Array = Any


LOSSES: dict[str, Any] = {}  # name -> class; every subclass with a name registers itself


class Loss:
    """Base class: subclasses implement ``value_and_grad(xp, pred, target) -> (value, grad)``."""

    name = ""
    takes_labels = False  # class labels of shape (n,) are accepted for (n, k) predictions
    # What the model must output when the loss does not take logits: "probability" (each value in
    # [0, 1]), "distribution" (rows of probabilities summing to 1), or None (any real numbers).
    # fit checks it against the model's last layer before training (see portnn.misuse).
    probability_kind: ClassVar[str | None] = None
    link: ClassVar[str] = ""  # what the loss applies to logits itself (from_logits=True): "softmax"

    def __init_subclass__(cls, **kwargs: Any) -> None:
        """A subclass with a ``name`` is registered under it: ``loss="my_loss"`` finds it."""
        super().__init_subclass__(**kwargs)
        if cls.__dict__.get("name"):
            LOSSES[cls.name] = cls

    def __call__(self, pred: Array, target: Array) -> Array:
        value = self._checked_forward(pred, target)[0]
        return namespace_of(pred).asarray(value)  # NumPy reductions give scalars: make it 0-D

    def grad(self, pred: Array, target: Array) -> Array:
        """Gradient of the loss with respect to ``pred``."""
        return self._checked_forward(pred, target)[1]

    def _checked_forward(self, pred: Array, target: Array) -> tuple[Array, Array]:
        xp = namespace_of(pred)
        if not _is_floating(xp, pred.dtype):
            raise TypeError(f"{self.name}: predictions must be real floating point, got {pred.dtype}")
        if namespace_of(target) is not xp:
            raise TypeError(f"{self.name}: target is a {type(target).__name__}, predictions a {type(pred).__name__}")
        self.check_pred(pred)
        return self.value_and_grad(xp, pred, self.prepare_target(xp, target, pred.shape, pred.dtype))

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
        _check_same_shape(self.name, pred_shape, target.shape)
        return target if target.dtype == dtype else xp.astype(target, dtype)

    def value_and_grad(self, xp: Any, pred: Array, target: Array) -> tuple[Array, Array]:
        """Value and gradient together; ``target`` must already be prepared (see above).

        Subclasses implement this; it is what training calls, once per step, unchecked.
        """
        raise NotImplementedError

    def __repr__(self) -> str:
        return f"{type(self).__name__}()"


def _is_floating(xp: Any, dtype: Any) -> bool:
    return bool(xp.isdtype(dtype, "real floating"))


def _check_same_shape(name: str, pred_shape: tuple, target_shape: tuple) -> None:
    if tuple(pred_shape) != tuple(target_shape):
        raise ValueError(
            f"{name}: target shape {tuple(target_shape)} differs from prediction shape "
            f"{tuple(pred_shape)}; reshape the target (no silent broadcasting)"
        )


def _check_in_unit_interval(name: str, what: str, x: Array) -> None:
    host = to_numpy(x, copy=False)
    bad = (host < 0) | (host > 1)
    if bad.any():
        row = int(bad.reshape(host.shape[0], -1).any(axis=1).argmax())
        raise ValueError(f"{name}: {what} must lie in [0, 1]; row {row} has {host[row].tolist()}")


class MSE(Loss):
    """Mean squared error over all elements: ``mean((pred - target) ** 2)``."""

    name = "mse"

    def value_and_grad(self, xp: Any, pred: Array, target: Array) -> tuple[Array, Array]:
        n = math.prod(pred.shape)
        diff = pred - target
        return sum_of_squares(xp, diff) * (1.0 / n), diff * (2.0 / n)


class BinaryCrossEntropy(Loss):
    """``-mean(t log p + (1 - t) log(1 - p))``; with ``from_logits=True`` ``pred`` is a logit.

    Probabilities are clipped to ``[eps, 1 - eps]`` so exact 0 and 1 give finite values.
    """

    name = "bce"
    probability_kind = "probability"
    link = "sigmoid"

    def __init__(self, from_logits: bool = False) -> None:
        self.from_logits = bool(from_logits)

    def prepare_target(self, xp: Any, target: Array, pred_shape: tuple, dtype: Any) -> Array:
        target = super().prepare_target(xp, target, pred_shape, dtype)
        _check_in_unit_interval(self.name, "targets", target)
        return target

    def check_pred(self, pred: Array) -> None:
        if not self.from_logits:
            _check_in_unit_interval(self.name, "predicted probabilities (from_logits=False)", pred)

    def value_and_grad(self, xp: Any, pred: Array, target: Array) -> tuple[Array, Array]:
        n = math.prod(pred.shape)
        limit = _math.exp_limit(xp, pred.dtype)
        if self.from_logits:
            value = xp.sum(_math.softplus(xp, pred, limit) - pred * target) / n
            return value, (_math.sigmoid(xp, pred, -limit, limit) - target) * (1.0 / n)
        eps = float(xp.finfo(pred.dtype).eps)
        p = _math.clip(xp, pred, eps, 1.0 - eps)
        value = -xp.sum(target * xp.log(p) + (1.0 - target) * xp.log(1.0 - p)) / n
        return value, (p - target) / (p * (1.0 - p)) * (1.0 / n)

    def __repr__(self) -> str:
        return f"BinaryCrossEntropy(from_logits={self.from_logits})"


class _ClassLoss(Loss):
    """Shared by the losses over class distributions (rows of ``pred``).

    1-D targets are class labels: integers, or floats that are whole numbers (labels read from a
    CSV as ``0.0 ... 9.0``), which are cast to integers; other floats (``0.5``) are refused.
    """

    takes_labels = True
    probability_kind = "distribution"
    link = "softmax"

    def __init__(self, from_logits: bool) -> None:
        self.from_logits = bool(from_logits)

    def prepare_target(self, xp: Any, target: Array, pred_shape: tuple, dtype: Any) -> Array:
        if len(pred_shape) != 2:
            raise ValueError(f"{self.name}: predictions must be 2-D (samples, classes), got {tuple(pred_shape)}")
        if len(target.shape) == 1 and (xp.isdtype(target.dtype, "integral") or _is_floating(xp, target.dtype)):
            return self._one_hot(xp, target, pred_shape, dtype)
        return super().prepare_target(xp, target, pred_shape, dtype)

    def check_pred(self, pred: Array) -> None:
        if not self.from_logits:
            _check_in_unit_interval(self.name, "predicted probabilities (from_logits=False)", pred)

    def _one_hot(self, xp: Any, labels: Array, pred_shape: tuple, dtype: Any) -> Array:
        n, k = pred_shape
        if labels.shape[0] != n:
            raise ValueError(f"{self.name}: {labels.shape[0]} labels for {n} predictions")
        host = to_numpy(labels, copy=False)
        fractional = host != host.round()
        if fractional.any():
            row = int(fractional.argmax())
            raise ValueError(
                f"{self.name}: 1-D targets are class labels, but these are floats (dtype {host.dtype}) that are "
                f"not whole numbers: row {row} has {host[row].item()}; pass integer labels in [0, {k}) "
                f"(whole-number floats such as 3.0 are accepted), or one-hot/probability rows of shape ({n}, {k})"
            )
        if host.size and (host.min() < 0 or host.max() >= k):
            row = int(((host < 0) | (host >= k)).argmax())
            raise ValueError(f"{self.name}: class labels must be in [0, {k}); row {row} has label {int(host[row])}")
        classes = xp.arange(k, device=labels.device)
        if not xp.isdtype(labels.dtype, "integral"):
            labels = xp.astype(labels, classes.dtype)  # whole numbers: the cast is exact
        return xp.astype(xp.reshape(labels, (n, 1)) == classes, dtype)

    def _log_probs_and_grad(self, xp: Any, pred: Array, target: Array) -> tuple[Array, Array]:
        """``log p`` for the value and ``dL/dpred`` for ``L = -sum(t log p) / n``."""
        n = pred.shape[0]
        if self.from_logits:
            limit = _math.exp_limit(xp, pred.dtype)
            shifted = pred - xp.max(pred, axis=-1, keepdims=True)
            e = xp.exp(xp.maximum(shifted, -limit))  # shifted <= 0 already
            total = xp.sum(e, axis=-1, keepdims=True)
            log_p = shifted - xp.log(total)
            grad = (e / total) * xp.sum(target, axis=-1, keepdims=True) - target
            return log_p, grad * (1.0 / n)
        p = _math.clip(xp, pred, float(xp.finfo(pred.dtype).smallest_normal), 1.0)
        return xp.log(p), target / p * (-1.0 / n)


class CrossEntropy(_ClassLoss):
    """``-mean over samples of sum_k t_k log softmax(z)_k``; targets are integer labels ``(n,)`` or
    one-hot/probability rows ``(n, k)``. With ``from_logits=False`` ``pred`` holds probabilities."""

    name = "cross_entropy"

    def __init__(self, from_logits: bool = True) -> None:
        super().__init__(from_logits)

    def value_and_grad(self, xp: Any, pred: Array, target: Array) -> tuple[Array, Array]:
        log_p, grad = self._log_probs_and_grad(xp, pred, target)
        return -xp.sum(target * log_p) / pred.shape[0], grad

    def __repr__(self) -> str:
        return f"CrossEntropy(from_logits={self.from_logits})"


class KLDivergence(_ClassLoss):
    """``KL(target || pred) = sum_k t_k (log t_k - log p_k)``, summed over classes, mean over
    samples, with ``0 log 0 = 0``. ``pred`` holds probabilities (or logits with from_logits=True)."""

    name = "kl_div"

    def __init__(self, from_logits: bool = False) -> None:
        super().__init__(from_logits)

    def value_and_grad(self, xp: Any, pred: Array, target: Array) -> tuple[Array, Array]:
        log_p, grad = self._log_probs_and_grad(xp, pred, target)
        positive = target > 0.0
        t_log_t = xp.where(positive, target * xp.log(xp.where(positive, target, 1.0)), 0.0)
        return xp.sum(t_log_t - target * log_p) / pred.shape[0], grad

    def __repr__(self) -> str:
        return f"KLDivergence(from_logits={self.from_logits})"


class Exponential(Loss):
    """AdaBoost's exponential loss ``mean(exp(-t f))`` with ``t = 2y - 1`` for labels ``y`` in {0, 1}.

    Margins are clipped to half the dtype's exp range, so the mean of many terms stays finite.
    """

    name = "exponential"

    def prepare_target(self, xp: Any, target: Array, pred_shape: tuple, dtype: Any) -> Array:
        target = super().prepare_target(xp, target, pred_shape, dtype)
        host = to_numpy(target, copy=False)
        if not ((host == 0) | (host == 1)).all():
            raise ValueError(f"exponential: labels must be 0 or 1, got values {sorted(set(host.ravel().tolist()))[:5]}")
        return target

    def value_and_grad(self, xp: Any, pred: Array, target: Array) -> tuple[Array, Array]:
        n = math.prod(pred.shape)
        limit = 0.5 * _math.exp_limit(xp, pred.dtype)
        sign = 2.0 * target - 1.0
        e = xp.exp(_math.clip(xp, -sign * pred, -limit, limit))
        return xp.sum(e) / n, -sign * e * (1.0 / n)


LOSSES.update(binary_cross_entropy=BinaryCrossEntropy, ce=CrossEntropy)  # aliases


def get_loss(loss: str | Loss) -> Loss:
    """A loss by name (``"mse"``) or the object itself."""
    return by_name("loss", loss, Loss, LOSSES)  # type: ignore[no-any-return]
