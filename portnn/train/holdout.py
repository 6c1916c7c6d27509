"""The validation data of a fit: given (``validation_data``) or held out of the training rows
(``validation_split``, Keras's way: the last rows, before any shuffling), checked and on the device."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

from ..objectives.lossbase import Loss
from ..objectives.weights import RowWeights
from .evaluation import prepare, prepare_weights
from .sources import STREAM_BYTES, Batches, is_batches, is_streamed, rows_of

if TYPE_CHECKING:
    from ..nn.network import Network

Array = Any
Prepared = tuple[Array, Array, RowWeights | None]


def split(
    model: Network,
    loss: Loss,
    X: Array,
    y: Array,
    weights: RowWeights | None,
    fraction: Any,
    validation_data: Any,
    chunk_bytes: int = STREAM_BYTES,
) -> tuple[Prepared, Prepared | None]:
    """The training rows and the validation data, from prepared ``X``, ``y`` and ``weights``
    (validation data streamed ``chunk_bytes`` at a time when it is a memmap or array-like)."""
    if validation_split_rows(fraction, validation_data, X.shape[0]) < X.shape[0]:
        return split_off(X, y, weights, fraction)
    return (X, y, weights), validation(model, loss, validation_data, chunk_bytes)


def validation_split_rows(fraction: Any, validation_data: Any, n: int) -> int:
    """The number of training rows that ``validation_split=fraction`` leaves of ``n`` (``n`` for
    no split); ``ValueError``/``TypeError`` naming ``validation_split`` for a bad fraction."""
    if isinstance(fraction, bool) or not isinstance(fraction, (int, float)) or not 0.0 <= fraction < 1.0:
        raise ValueError(f"validation_split: expected a fraction in [0, 1), got {fraction!r}")
    if fraction == 0.0:
        return n
    if validation_data is not None:
        raise TypeError("validation_split: give validation_split or validation_data, not both")
    rows = math.floor(n * (1.0 - fraction))  # Keras's split point: at least one validation row
    if rows == 0:
        raise ValueError(f"validation_split: {fraction!r} of {n} rows leaves no rows to train on")
    return rows


def split_off(X: Array, y: Array, weights: RowWeights | None, fraction: float) -> tuple[tuple, tuple]:
    """The first rows of prepared data for training, the last ``fraction`` of them for validation."""
    k = validation_split_rows(fraction, None, X.shape[0])
    train_w = None if weights is None else RowWeights(weights.host[:k], weights.device[:k, ...])
    val_w = None if weights is None else RowWeights(weights.host[k:], weights.device[k:, ...])
    return (X[:k, ...], y[:k, ...], train_w), (X[k:, ...], y[k:, ...], val_w)


def validation(
    model: Network, loss: Loss, data: Any, chunk_bytes: int = STREAM_BYTES
) -> tuple[Array, Array, RowWeights | None] | None:
    if data is None:
        return None
    if is_batches(data, None) and not _arrays(data):  # an iterable of batches, measured each epoch
        return Batches(data, name="validation_data"), None, None
    if not isinstance(data, (tuple, list)) or len(data) not in (2, 3):
        raise TypeError("validation_data: expected a pair (X_val, y_val) or (X_val, y_val, sample_weight_val)")
    names = ("validation_data[0]", "validation_data[1]")
    if is_streamed(data[0]) or is_streamed(data[1]):  # read a chunk at a time when measured
        X, y = rows_of(data[0], data[1], *names, chunk_bytes)
        weights = prepare_weights(model, loss, y.array, data[2], name="validation_data[2]") if len(data) == 3 else None
        return X, y, weights
    X, y = prepare(model, data[0], data[1], loss, *names)
    weights = prepare_weights(model, loss, y, data[2], name="validation_data[2]") if len(data) == 3 else None
    return X, y, weights


def _arrays(data: Any) -> bool:
    """Whether ``validation_data`` is ``(X_val, y_val[, sample_weight_val])``, not a list or tuple
    of batches (tuples, each ``(X, y[, sample_weight])``)."""
    if not isinstance(data, (tuple, list)) or len(data) not in (2, 3):
        return False
    return not all(isinstance(part, tuple) and len(part) in (2, 3) for part in data)
