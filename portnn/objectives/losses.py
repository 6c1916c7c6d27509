"""Losses. Each is an average over samples that depends only on the network's output; with
per-sample weights, the weighted average (see :mod:`portnn.objectives.lossbase`, which holds the contract,
the registry and ``get_loss``).

``loss(pred, target)`` returns a 0-D array on pred's backend, ``loss.grad(pred, target)`` an array
shaped like ``pred``; training calls the fused ``value_and_grad`` so shared work is done once.
"""

from __future__ import annotations

import math
from typing import Any

from .. import _math
from .._xp import sum_of_squares, to_numpy
from .linkloss import LinkLoss
from .lossbase import LOSSES, Loss, check_in_unit_interval, get_loss, is_floating, row_scale
from .penalty import L2Penalty

__all__ = [
    "LOSSES",
    "BinaryCrossEntropy",
    "CrossEntropy",
    "Exponential",
    "KLDivergence",
    "L2Penalty",
    "LinkLoss",
    "Loss",
    "MSE",
    "get_loss",
]

Array = Any


class MSE(Loss):
    """Mean squared error over all elements: ``mean((pred - target) ** 2)``."""

    name = "mse"

    def value_and_grad(self, xp: Any, pred: Array, target: Array, weight: Array | None = None) -> tuple[Array, Array]:
        if weight is not None:
            diff = pred - target
            scaled = diff * row_scale(xp, weight, pred)
            return xp.sum(scaled * diff), scaled * 2.0
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
        check_in_unit_interval(self.name, "targets", target)
        return target

    def check_pred(self, pred: Array) -> None:
        if not self.from_logits:
            check_in_unit_interval(self.name, "predicted probabilities (from_logits=False)", pred)

    def value_and_grad(self, xp: Any, pred: Array, target: Array, weight: Array | None = None) -> tuple[Array, Array]:
        n = math.prod(pred.shape)
        limit = _math.exp_limit(xp, pred.dtype)
        if self.from_logits:
            sign, terms = 1.0, _math.softplus(xp, pred, limit) - pred * target
            slope = _math.sigmoid(xp, pred, -limit, limit) - target
        else:
            eps = float(xp.finfo(pred.dtype).eps)
            p = _math.clip(xp, pred, eps, 1.0 - eps)
            sign, terms = -1.0, target * xp.log(p) + (1.0 - target) * xp.log(1.0 - p)
            slope = (p - target) / (p * (1.0 - p))
        if weight is None:
            return xp.sum(terms) / (sign * n), slope * (1.0 / n)
        scale = row_scale(xp, weight, pred)
        return xp.sum(terms * scale) * sign, slope * scale

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
        if len(target.shape) == 1 and (xp.isdtype(target.dtype, "integral") or is_floating(xp, target.dtype)):
            return self._one_hot(xp, target, pred_shape, dtype)
        return super().prepare_target(xp, target, pred_shape, dtype)

    def check_pred(self, pred: Array) -> None:
        if not self.from_logits:
            check_in_unit_interval(self.name, "predicted probabilities (from_logits=False)", pred)

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

    def _log_probs_and_grad(self, xp: Any, pred: Array, target: Array, scale: Any) -> tuple[Array, Array]:
        """``log p`` for the value and ``dL/dpred`` for ``L = -sum(t log p) * scale``: ``scale`` is
        ``1 / n``, or each row's weight over the weights' sum (an ``(n, 1)`` array)."""
        if self.from_logits:
            limit = _math.exp_limit(xp, pred.dtype)
            shifted = pred - xp.max(pred, axis=-1, keepdims=True)
            e = xp.exp(xp.maximum(shifted, -limit))  # shifted <= 0 already
            total = xp.sum(e, axis=-1, keepdims=True)
            log_p = shifted - xp.log(total)
            grad = (e / total) * xp.sum(target, axis=-1, keepdims=True) - target
            return log_p, grad * scale
        p = _math.clip(xp, pred, float(xp.finfo(pred.dtype).smallest_normal), 1.0)
        return xp.log(p), target / p * -scale


class CrossEntropy(_ClassLoss):
    """``-mean over samples of sum_k t_k log softmax(z)_k``; targets are integer labels ``(n,)`` or
    one-hot/probability rows ``(n, k)``. With ``from_logits=False`` ``pred`` holds probabilities."""

    name = "cross_entropy"

    def __init__(self, from_logits: bool = True) -> None:
        super().__init__(from_logits)

    def value_and_grad(self, xp: Any, pred: Array, target: Array, weight: Array | None = None) -> tuple[Array, Array]:
        if weight is not None:
            scale = row_scale(xp, weight, pred, per_element=False)
            log_p, grad = self._log_probs_and_grad(xp, pred, target, scale)
            return -xp.sum(target * log_p * scale), grad
        log_p, grad = self._log_probs_and_grad(xp, pred, target, 1.0 / pred.shape[0])
        return -xp.sum(target * log_p) / pred.shape[0], grad

    def __repr__(self) -> str:
        return f"CrossEntropy(from_logits={self.from_logits})"


class KLDivergence(_ClassLoss):
    """``KL(target || pred) = sum_k t_k (log t_k - log p_k)``, summed over classes, mean over
    samples, with ``0 log 0 = 0``. ``pred`` holds probabilities (or logits with from_logits=True)."""

    name = "kl_div"

    def __init__(self, from_logits: bool = False) -> None:
        super().__init__(from_logits)

    def value_and_grad(self, xp: Any, pred: Array, target: Array, weight: Array | None = None) -> tuple[Array, Array]:
        scale = 1.0 / pred.shape[0] if weight is None else row_scale(xp, weight, pred, per_element=False)
        log_p, grad = self._log_probs_and_grad(xp, pred, target, scale)
        positive = target > 0.0
        t_log_t = xp.where(positive, target * xp.log(xp.where(positive, target, 1.0)), 0.0)
        if weight is None:
            return xp.sum(t_log_t - target * log_p) / pred.shape[0], grad
        return xp.sum((t_log_t - target * log_p) * scale), grad

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

    def value_and_grad(self, xp: Any, pred: Array, target: Array, weight: Array | None = None) -> tuple[Array, Array]:
        n = math.prod(pred.shape)
        limit = 0.5 * _math.exp_limit(xp, pred.dtype)
        sign = 2.0 * target - 1.0
        e = xp.exp(_math.clip(xp, -sign * pred, -limit, limit))
        if weight is None:
            return xp.sum(e) / n, -sign * e * (1.0 / n)
        scale = row_scale(xp, weight, pred)
        return xp.sum(e * scale), -sign * e * scale


LOSSES.update(binary_cross_entropy=BinaryCrossEntropy, ce=CrossEntropy)  # aliases
