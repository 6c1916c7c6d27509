"""Per-sample weights: ``sample_weight`` and ``class_weight`` checked and turned into one weight
per row, on the host, once per ``fit`` or ``evaluate`` (never per step).

A loss averages its rows with these weights (``sum_i w_i l_i / sum_i w_i``: weight 2 is the row
counted twice, see :mod:`portnn.objectives.lossbase`), and so do the metrics.

>>> import numpy as np
>>> row_weights(4, np.array([0, 1, 1, 2]), sample_weight=[1.0, 1.0, 2.0, 1.0], class_weight={1: 3.0})
array([1., 3., 6., 1.])
"""

from __future__ import annotations

import inspect
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from .._checks import kind_check
from .._xp import to_numpy

Array = Any


def sample_weights(name: str, weight: Any, n_rows: int) -> np.ndarray:
    """``weight`` as a float64 host array of one finite, non-negative weight per row, not all zero;
    ``ValueError``/``TypeError`` naming ``name`` otherwise."""
    host = to_numpy(kind_check(name, weight), copy=False)
    if host.dtype == bool:
        raise TypeError(f"{name}: expected numbers, got booleans")
    host = host.astype(np.float64)
    if host.shape != (n_rows,):
        raise ValueError(f"{name}: expected one weight per row, shape ({n_rows},), got shape {host.shape}")
    check_weights(name, host)
    return host


def check_weights(name: str, host: np.ndarray, unit: str = "row") -> None:
    """``ValueError`` naming ``name`` unless every weight is finite and ``>= 0`` and one is positive."""
    bad = ~np.isfinite(host) | (host < 0)
    if bad.any():
        row = int(bad.argmax())
        raise ValueError(f"{name}: weights must be finite and >= 0; {unit} {row} has {host[row]}")
    if not (host > 0).any():
        raise ValueError(f"{name}: all weights are zero; at least one row must count")


def class_labels(y: Any) -> np.ndarray:
    """Each row's class from the targets: integer labels ``(n,)``, one-hot rows ``(n, k)`` (their
    argmax), or binary targets ``(n, 1)`` of 0 and 1."""
    host = to_numpy(y, copy=False)
    if host.ndim == 2 and host.shape[1] > 1:
        if (host >= 0).all() and np.allclose(host.sum(axis=1), 1.0):
            return np.asarray(host.argmax(axis=1))
    elif host.ndim <= 2:
        flat = host.reshape(-1)
        if np.array_equal(flat, np.round(flat)):
            return flat.astype(np.int64)
    raise ValueError(
        "class_weight: the targets are not class labels (integer labels, one-hot rows, or 0/1 targets); "
        "pass sample_weight instead"
    )


def class_row_weights(class_weight: Any, y: Any, n_out: int | None) -> np.ndarray:
    """``class_weight`` (``{label: weight}``; unlisted classes weigh 1) as one weight per row."""
    if not isinstance(class_weight, Mapping):
        raise TypeError(f"class_weight: expected a dict {{label: weight}}, got {type(class_weight).__name__}")
    labels = class_labels(y)
    if n_out is None:  # 1-D labels: as many classes as the labels and the keys name
        keys = [k for k in class_weight if isinstance(k, (int, np.integer)) and not isinstance(k, bool)]
        n_out = int(max(labels.max(initial=0), *keys, 0)) + 1 if keys else int(labels.max(initial=0)) + 1
    n_classes = max(2, n_out)
    table = np.ones(n_classes)
    for label, weight in class_weight.items():
        if isinstance(label, bool) or not isinstance(label, (int, np.integer)) or not 0 <= label < n_classes:
            raise ValueError(f"class_weight: label {label!r} is not a class of this model (0 ... {n_classes - 1})")
        if isinstance(weight, bool) or not isinstance(weight, (int, float, np.number)):
            raise TypeError(f"class_weight[{label}]: expected a number, got {type(weight).__name__}")
        table[int(label)] = float(weight)
    check_weights("class_weight", table, unit="class")
    if labels.size and (labels.min() < 0 or labels.max() >= n_classes):
        raise ValueError(f"class_weight: the targets hold labels outside 0 ... {n_classes - 1}")
    return np.asarray(table[labels])


def row_weights(
    n_rows: int, y: Any, sample_weight: Any = None, class_weight: Any = None, name: str = "sample_weight"
) -> np.ndarray | None:
    """One weight per row of the targets ``y`` from ``sample_weight`` (checked under ``name``)
    times ``class_weight``; ``None`` when neither is given (the unweighted path)."""
    if sample_weight is None and class_weight is None:
        return None
    weights = np.ones(n_rows) if sample_weight is None else sample_weights(name, sample_weight, n_rows)
    if class_weight is not None:
        n_out = y.shape[1] if len(y.shape) == 2 else None
        weights = weights * class_row_weights(class_weight, y, n_out)
        check_weights("class_weight" if sample_weight is None else f"{name} * class_weight", weights)
    return weights


@dataclass
class RowWeights:
    """Checked weights, one per row: on the host (float64) and on the device (the model's dtype)."""

    host: np.ndarray
    device: Array

    def batch_totals(self, ranges: list[tuple[int, int]], order: np.ndarray | None = None) -> list[float]:
        """The total weight of each batch of rows ``a:b`` (of the rows taken in ``order``)."""
        host = self.host if order is None else self.host[order]
        return [float(v) for v in np.add.reduceat(host, [a for a, _ in ranges])]


def rows_count(weights: RowWeights | None, a: int, b: int, order: np.ndarray | None = None) -> float:
    """What rows ``a:b`` (of the rows taken in ``order``) count for in a mean over rows: their
    number, or with ``weights`` their total weight.

    >>> rows_count(None, 2, 5), rows_count(RowWeights(np.array([1.0, 2.0, 3.0]), None), 1, 3)
    (3.0, 5.0)
    """
    if weights is None:
        return float(b - a)
    return float(np.sum(weights.host[slice(a, b) if order is None else order[a:b]]))


def check_loss_takes_weights(loss: Any) -> None:
    """``TypeError`` when ``loss.value_and_grad`` has no ``weight`` argument (a loss of your own
    written before weights), before any work is done."""
    params = inspect.signature(loss.value_and_grad).parameters
    if "weight" not in params and not any(p.kind is p.VAR_KEYWORD for p in params.values()):
        raise TypeError(
            f"loss {loss.name or type(loss).__name__}: value_and_grad(xp, pred, target) takes no weight, so "
            "sample_weight and class_weight cannot be used; add a `weight=None` argument (see portnn.objectives.lossbase)"
        )
