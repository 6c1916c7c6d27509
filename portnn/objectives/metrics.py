"""Metrics: what ``fit`` logs beside the loss and ``evaluate`` returns, computed on the device.

A metric reduces a batch to a few sums (:meth:`Metric.statistics`: weighted counts or errors and
the total weight), merges the sums of many batches (:meth:`Metric.combine`) and turns them into
its value (:meth:`Metric.compute`). ``fit`` computes each step's sums inside the training step
(compiled with it on JAX) from the predictions the step trains on (training mode, before the
update, as Keras does), keeps them on the device and combines them once per epoch, when they are
read together with the loss: nothing is read per step. By hand, :meth:`Metric.update` accumulates
and :meth:`Metric.result` gives a 0-D array on the predictions' device. Weights make every metric
a weighted mean over rows, as scikit-learn's ``sample_weight`` does.

Subclassing :class:`Metric` with a ``name`` registers it: ``metrics=["my_metric"]`` finds it.

>>> import numpy as np
>>> acc = Accuracy()
>>> acc.update(np, np.array([[0.9], [0.2], [0.7], [0.4]]), np.array([[1.0], [0.0], [0.0], [0.0]]))
>>> float(acc.result())
0.75
"""

from __future__ import annotations

import math
from typing import Any

from .._checks import positive_int
from .metricbase import (
    METRICS,
    Metric,
    MetricSet,
    Stats,
    as_columns,
    class_index,
    get_metric,
    output_kind,
    positive,
    total_weight,
    weighted_sum,
)

__all__ = [
    "METRICS",
    "R2",
    "Accuracy",
    "MeanAbsoluteError",
    "MeanSquaredError",
    "Metric",
    "MetricSet",
    "TopKAccuracy",
    "get_metric",
    "output_kind",
]

Array = Any


class _Mean(Metric):
    """A weighted mean over rows of ``hits`` (per-row values, or ``(n, k)`` values averaged per row)."""

    def hits(self, xp: Any, pred: Array, target: Array) -> Array:
        raise NotImplementedError

    def statistics(self, xp: Any, pred: Array, target: Array, weight: Array | None) -> Stats:
        values = self.hits(xp, pred, target)
        per_row, total = math.prod(values.shape[1:]), weighted_sum(xp, values, weight)
        return (total / per_row if per_row != 1 else total), total_weight(xp, pred, weight)

    def compute(self, xp: Any, stats: Stats) -> Array:
        return stats[0] / stats[1]


class Accuracy(_Mean):
    """The fraction of rows whose predicted class is the target's (``sklearn.metrics.accuracy_score``).

    One output (binary): the class is 1 where the output exceeds ``threshold``; by default 0 when
    the loss takes logits (``from_logits=True``) and 0.5 otherwise (probabilities, or plain values
    of a model trained with, say, MSE, as in Keras). Targets are 0/1 (above 0.5
    counts as 1). Several outputs (multiclass): the argmax of the outputs, logits or probabilities
    alike, against integer labels or the argmax of one-hot or probability rows.
    """

    name = "accuracy"

    def __init__(self, threshold: float | None = None) -> None:
        if threshold is not None and (isinstance(threshold, bool) or not isinstance(threshold, (int, float))):
            raise TypeError(f"threshold: expected a number or None, got {threshold!r}")
        self.threshold = threshold

    def cutoff(self) -> float:
        if self.threshold is not None:
            return float(self.threshold)
        return 0.0 if self.output_kind == "logits" else 0.5  # logits only when the loss takes them

    def hits(self, xp: Any, pred: Array, target: Array) -> Array:
        if len(pred.shape) == 2 and pred.shape[1] == 1:
            truth = xp.reshape(target, (target.shape[0],))
            if not xp.isdtype(truth.dtype, "bool"):
                truth = truth > 0.5 if xp.isdtype(truth.dtype, "real floating") else truth == 1
            return xp.astype((pred[:, 0] > self.cutoff()) == truth, pred.dtype)
        return xp.astype(xp.argmax(pred, axis=1) == class_index(xp, target), pred.dtype)


class TopKAccuracy(_Mean):
    """The fraction of rows whose target class is among the ``k`` highest outputs
    (``sklearn.metrics.top_k_accuracy_score``); ties count in the prediction's favour."""

    name = "top_k_accuracy"

    def __init__(self, k: int = 5) -> None:
        self.k = positive_int("k", k)

    def hits(self, xp: Any, pred: Array, target: Array) -> Array:
        if len(pred.shape) != 2 or pred.shape[1] < 2:
            raise ValueError(f"top_k_accuracy: expected (samples, classes) outputs, got shape {tuple(pred.shape)}")
        classes = xp.arange(pred.shape[1], device=getattr(pred, "device", None))
        is_true = xp.reshape(class_index(xp, target), (pred.shape[0], 1)) == classes
        true_score = xp.sum(xp.where(is_true, pred, 0.0), axis=1, keepdims=True)
        above = xp.sum(xp.astype(pred > true_score, pred.dtype), axis=1)
        return xp.astype(above < self.k, pred.dtype)


class MeanAbsoluteError(_Mean):
    """``mean |pred - target|`` (``sklearn.metrics.mean_absolute_error``, outputs averaged)."""

    name = "mae"
    higher_is_better = False

    def hits(self, xp: Any, pred: Array, target: Array) -> Array:
        return xp.abs(pred - as_columns(xp, target, pred))


class MeanSquaredError(_Mean):
    """``mean (pred - target)^2`` (``sklearn.metrics.mean_squared_error``, outputs averaged)."""

    name = "mse"
    higher_is_better = False

    def hits(self, xp: Any, pred: Array, target: Array) -> Array:
        diff = pred - as_columns(xp, target, pred)
        return diff * diff


class R2(Metric):
    """The coefficient of determination ``1 - SS_res / SS_tot`` per output, averaged over outputs
    (``sklearn.metrics.r2_score``, ``multioutput="uniform_average"``; a constant target scores 1
    when predicted exactly, else 0). Batches are merged exactly (Chan et al.'s pairwise update),
    without the cancellation of ``sum y^2 - n mean^2``."""

    name = "r2"

    def statistics(self, xp: Any, pred: Array, target: Array, weight: Array | None) -> Stats:
        target = as_columns(xp, target, pred)
        col = None if weight is None else xp.reshape(weight, (pred.shape[0], 1))
        total = total_weight(xp, pred, weight)
        mean = _column_sum(xp, target, col) / positive(xp, total)
        dev, resid = target - mean, target - pred
        return total, mean, _column_sum(xp, dev * dev, col), _column_sum(xp, resid * resid, col)

    def combine(self, xp: Any, stacked: Stats) -> Stats:
        weights, means, spreads, residuals = stacked
        total = xp.sum(weights)
        col = xp.reshape(weights, (weights.shape[0], 1))
        grand = xp.sum(col * means, axis=0) / positive(xp, total)
        shift = means - grand
        return total, grand, xp.sum(spreads, axis=0) + xp.sum(col * shift * shift, axis=0), xp.sum(residuals, axis=0)

    def compute(self, xp: Any, stats: Stats) -> Array:
        spread, residual = stats[2], stats[3]
        nonzero = spread != 0.0
        exact = xp.astype(residual == 0.0, residual.dtype)  # a constant target: 1 if hit exactly, else 0
        score = xp.where(nonzero, 1.0 - residual / xp.where(nonzero, spread, 1.0), exact)
        return xp.mean(score)


def _column_sum(xp: Any, values: Array, col: Array | None) -> Array:
    return xp.sum(values if col is None else values * col, axis=0)


METRICS.update(
    acc=Accuracy, top_k=TopKAccuracy, mean_absolute_error=MeanAbsoluteError, mean_squared_error=MeanSquaredError
)
