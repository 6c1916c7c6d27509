"""``evaluate``: a model's loss and metrics on data, in inference mode, batched on the device and
read from it once. ``fit``'s validation is the same measurement, and the checks of the data
(:func:`prepare`, :func:`prepare_weights`) are the ones ``fit`` makes.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable, Iterator, Sequence
from typing import TYPE_CHECKING, Any

from .. import _checks
from .._xp import Backend, get_backend, to_numpy
from ..objectives import weights
from ..objectives.lossbase import Loss, get_loss
from ..objectives.metricbase import Metric, MetricSet, output_kind
from ..objectives.misuse import check_output
from ..objectives.weights import RowWeights
from .sources import (
    STREAM_BYTES,
    Batches,
    Rows,
    chunks,
    is_batches,
    is_streamed,
    prefetched,
    read_chunk,
    row_values,
    rows_of,
)

if TYPE_CHECKING:
    from ..nn.network import Network

Array = Any


def evaluate(
    model: Network,
    X: Any,
    y: Any = None,
    *,
    loss: str | Loss | None = None,
    metrics: Sequence[str | Metric] | None = None,
    batch_size: int | None = None,
    sample_weight: Any = None,
    chunk_bytes: int = STREAM_BYTES,
) -> dict[str, float]:
    """The loss (under ``"loss"``) and each metric (under its name) of ``model`` on ``(X, y)``:
    inference mode (Dropout off), ``batch_size`` rows at a time (``None``: all at once), computed
    on the device and read once at the end. With ``sample_weight`` (one per row) each is the
    weighted mean over rows. With ``y`` left out, ``X`` is an iterable of ``(X, y)`` or
    ``(X, y, sample_weight)`` batches, each measured as one. A memmap or array-like ``X`` is streamed (see :mod:`portnn.train.sources`),
    ``batch_size=None`` then meaning a chunk's rows (``chunk_bytes`` of them at a time). ``loss`` and ``metrics`` left out are the last ``fit``'s (as Keras
    measures what the model was compiled with), or ``"mse"`` and none before any fit.

    >>> import portnn as pn
    >>> X, y = pn.datasets.xor()
    >>> net = pn.Sequential(pn.Dense(2, 1), pn.Sigmoid(), seed=0)
    >>> sorted(net.evaluate(X, y, loss="bce", metrics=["accuracy"]))
    ['accuracy', 'loss']
    >>> h = net.fit(X, y, loss="bce", metrics=["accuracy"], progress=False)
    >>> sorted(net.evaluate(X, y))  # the fit's loss and metrics
    ['accuracy', 'loss']
    """
    loss = get_loss(loss if loss is not None else (model.loss or "mse"))
    metrics = metrics if metrics is not None else model.metrics
    batch_size = _checks.positive_int("batch_size", batch_size, allow_none=True)
    if is_batches(X, y):  # an iterable of (X, y[, sample_weight]) batches
        if sample_weight is not None:
            raise TypeError("sample_weight: batches carry their own weights, as (X, y, sample_weight)")
        X, row_weights = Batches(X), None
    elif is_streamed(X) or is_streamed(y):  # read a chunk at a time (portnn.train.sources)
        X, y = rows_of(X, y, "X", "y", _checks.positive_int("chunk_bytes", chunk_bytes))  # type: ignore[arg-type]
        row_weights = prepare_weights(model, loss, y.array, sample_weight)
    else:
        X, y = prepare(model, X, y, loss, "X", "y")
        row_weights = prepare_weights(model, loss, y, sample_weight)
    metric_set = MetricSet(metrics, output_kind(model, loss)) if metrics else None
    with model.backend.floating_point_errors_ignored():
        values = measure(model, X, y, row_weights, loss, metric_set, batch_size)
    return read_all(model.backend, values)


def prepare(model: Network, X: Any, y: Any, loss: Loss, x_name: str, y_name: str) -> tuple[Array, Array]:
    """``X`` and ``y`` checked and placed on the model's backend, ``y`` in the form ``loss``
    computes with; errors name ``x_name`` and ``y_name``."""
    X = model.check_features(X, x_name)
    return X, prepare_labels(model, loss, y, X, (x_name, y_name), X.shape[0])


def prepare_labels(model: Network, loss: Loss, y: Any, X: Array, names: tuple[str, str], rows: int) -> Array:
    """``y`` (``rows`` rows) checked and placed on the model's backend in the form ``loss``
    computes with, for the model's outputs on checked ``X`` (a streamed chunk's labels may come
    with only a part of its rows: the first row is all it looks at)."""
    y = _checks.targets(names[1], y, model.backend, model.dtype, rows)
    check_output(model, loss, X, names[0])  # a loss that does not fit the model's output, before any step
    return _encoded(model.xp, loss, y, (rows, output_width(model, X)), model.dtype, names[1])


def output_width(model: Network, X: Array) -> int:
    """The model's outputs per row, from the shape of its output on ``X``'s first row if it
    does not say (the shape only: nothing is read from the device)."""
    return model.n_out if model.n_out is not None else model.forward(X[:1, ...], False)[0].shape[1]


def _encoded(xp: Any, loss: Loss, y: Array, shape: tuple[int, int], dtype: Any, name: str) -> Array:
    """Checked labels ``y`` of namespace ``xp`` in the form ``loss`` computes with, for outputs
    of ``shape`` (one target per row: a column, as Keras); errors name ``name``."""
    if len(y.shape) == 1 and shape[1] == 1 and not loss.takes_labels:
        y = xp.reshape(y, (y.shape[0], 1))
    try:
        return loss.prepare_target(xp, y, shape, dtype)
    except ValueError as exc:
        raise ValueError(f"{name}: {exc}") from exc


def prepare_weights(
    model: Network, loss: Loss, y: Array, sample_weight: Any, class_weight: Any = None, name: str = "sample_weight"
) -> RowWeights | None:
    """The rows' weights (``sample_weight`` times ``class_weight``, checked; errors name ``name``)
    on the host and the device, or ``None`` when neither is given."""
    host = weights.row_weights(y.shape[0], y, sample_weight, class_weight, name)
    if host is None:
        return None
    weights.check_loss_takes_weights(loss)
    return RowWeights(host, model.backend.asarray(host, model.dtype))


def batch_counts(ranges: list[tuple[int, int]], row_weights: RowWeights | None, order: Any = None) -> list:
    """What each batch counts for in a mean over rows: its number of rows, or its total weight."""
    if row_weights is None:
        return [b - a for a, b in ranges]
    return row_weights.batch_totals(ranges, order)


def weighted_mean(values: list[Array], counts: list) -> Array:
    """The batches' mean values combined into the mean over all their rows (on the device)."""
    if len(values) == 1:
        return values[0]
    return sum(v * c for v, c in zip(values, counts)) / sum(counts)


def measure(
    model: Network,
    X: Array,
    y: Array,
    row_weights: RowWeights | None,
    loss: Loss,
    metric_set: MetricSet | None,
    batch_size: int | None = None,
) -> dict[str, Array]:
    """The loss and the metrics of ``model`` on prepared data (streamed :class:`Rows`, or
    :class:`Batches`), in inference mode: 0-D arrays on the device, nothing read."""
    losses, counts, stats = measured(model, loss, metric_set, batch_items(model, loss, X, y, row_weights, batch_size))
    if not losses:  # an exhausted iterable of batches (a one-shot generator asked again)
        raise ValueError("evaluate: the data gave no batches (a generator is used up after one pass; pass a list)")
    values = {"loss": weighted_mean(losses, counts)}
    if metric_set is not None:
        values.update(metric_set.values(model.xp, stats))
    return values


def measured(model: Network, loss: Loss, metric_set: MetricSet | None, items: Iterable) -> tuple[list, list, list]:
    """Each batch's loss (on the device), count and metric statistics, in inference mode;
    ``items``: ``((X, y, w or None), count)`` per batch, as :func:`batch_items` gives them."""
    xp = model.xp
    losses, stats, counts = [], [], []
    for (Xb, yb, wb), count in items:
        pred = model.forward(Xb, False)[0]
        losses.append(loss.value_and_grad(xp, pred, yb)[0] if wb is None else loss.value_and_grad(xp, pred, yb, wb)[0])
        counts.append(count)
        if metric_set is not None:
            stats.append(metric_set(xp, pred, yb, wb))
    return losses, counts, stats


def batch_items(
    model: Network, loss: Loss, X: Array, y: Array, row_weights: RowWeights | None, batch_size: int | None = None
) -> Iterator[tuple[tuple, Any]]:
    """Prepared data (streamed :class:`Rows`: read a chunk at a time, ``batch_size=None`` then a
    chunk's rows; or :class:`Batches`) as ``((X, y, w or None), count)``, batch by batch."""
    if isinstance(X, Batches):
        return (prepare_batch(model, loss, batch) for batch in X.epoch())
    n = X.shape[0]
    if isinstance(X, Rows) and batch_size is None:  # streamed: batches of a chunk's rows
        batch_size = max(1, X.budget // (8 * row_values(X, y)))
    size = n if batch_size is None else min(batch_size, n)
    ranges = [(a, min(a + size, n)) for a in range(0, n, size)]
    return zip(_batches(model, loss, X, y, row_weights, ranges), batch_counts(ranges, row_weights))


def prepare_batch(model: Network, loss: Loss, batch: tuple, names: tuple[str, str] = ("X", "y")) -> tuple[tuple, Any]:
    """One ``(X, y, sample_weight or None)`` batch of an iterable checked, converted to the model's
    backend and dtype and its labels encoded; and what it counts for in a mean over rows."""
    Xb, yb, weights = prepared_batch(model, loss, batch, names)
    if weights is None:
        return (Xb, yb, None), Xb.shape[0]
    return (Xb, yb, weights.device), weights.batch_totals([(0, Xb.shape[0])])[0]


def prepared_batch(
    model: Network, loss: Loss, batch: tuple, names: tuple[str, str] = ("X", "y")
) -> tuple[Array, Array, RowWeights | None]:
    """:func:`prepare_batch`'s ``X`` and ``y``, and the batch's weights on the host and the device."""
    Xb, yb = prepare(model, batch[0], batch[1], loss, *names)
    return Xb, yb, prepare_weights(model, loss, yb, batch[2])


def _batches(
    model: Network, loss: Loss, X: Any, y: Any, row_weights: RowWeights | None, ranges: list[tuple[int, int]]
) -> Iterator[tuple[Array, Array, Array | None]]:
    """Each range's rows of prepared data, or of :class:`Rows` read and prepared a chunk at a time."""
    if not isinstance(X, Rows):
        whole = len(ranges) == 1
        for a, b in ranges:
            Xb, yb = (X, y) if whole else (X[a:b, ...], y[a:b, ...])
            yield Xb, yb, None if row_weights is None else (row_weights.device if whole else row_weights.device[a:b])
        return
    groups = chunks(ranges, row_values(X, y), X.budget)
    w = None if row_weights is None else row_weights.host
    n_out = streamed_width(model, X)
    staged = prefetched(lambda g: prepare_rows(model, loss, read_chunk(X, y, w, None, g[0], g[1]), n_out), groups)
    for i, ((_, _, local), (Xc, yc, wc)) in enumerate(zip(groups, staged)):
        if i == 0:  # once: a loss that does not fit the model's output (the checks' order: after y's)
            check_output(model, loss, Xc, "X")
        for a, b in local:
            yield Xc[a:b, ...], yc[a:b, ...], None if wc is None else wc[a:b, ...]


def prepare_rows(
    model: Network, loss: Loss, host: tuple[Any, Any, Any], n_out: int, names: tuple[str, str] = ("X", "y")
) -> tuple[Array, Array, Array | None]:
    """(the reading thread) A chunk of streamed rows read on the host (:func:`read_chunk`)
    :func:`checked_rows` and put on the device ahead (:meth:`Backend.stage`)."""
    return model.backend.stage(*checked_rows(model, loss, host, n_out, names))  # type: ignore[no-any-return]


def checked_rows(
    model: Network, loss: Loss, host: tuple[Any, Any, Any], n_out: int, names: tuple[str, str] = ("X", "y")
) -> tuple[Any, Any, Any]:
    """(the reading thread) A chunk of streamed rows read on the host checked and its labels
    encoded for ``loss`` there, in the model's dtype: nothing is read back from the device to
    check a chunk, so ``pn.testing.NoHostSync`` holds over a streamed epoch. ``n_out``: the
    model's outputs per row (:func:`streamed_width`)."""
    X = _checks.features(names[0], host[0], _on_host(), model.backend.host_dtype(model.dtype), model.n_in)
    return (X, *checked_labels(model, loss, host[1:], X.shape[0], n_out, names[1]))


def checked_labels(
    model: Network, loss: Loss, host: tuple[Any, Any], rows: int, n_out: int, name: str = "y"
) -> tuple[Any, Any]:
    """(the reading thread) A chunk's labels and weights (or None) read on the host, ``rows``
    rows, checked and the labels encoded for ``loss`` there, in the model's dtype (see
    :func:`checked_rows`)."""
    on_host, dtype = _on_host(), model.backend.host_dtype(model.dtype)
    y = _checks.targets(name, host[0], on_host, dtype, rows)
    y = _encoded(on_host.xp, loss, y, (rows, n_out), dtype, name)
    return y, None if host[1] is None else on_host.asarray(host[1], dtype)


def streamed_width(model: Network, X: Rows) -> int:
    """The model's outputs per row for streamed ``X`` (:func:`output_width`), nothing read: from
    its output on a row of zeros. (0 where ``X`` has not the model's features: the reading
    thread's check of the first chunk refuses it before the width is used.)"""
    if model.n_out is not None:
        return model.n_out
    if len(X.shape) != 2 or model.n_in not in (None, X.shape[1]):
        return 0
    return output_width(model, model.xp.zeros((1, X.shape[1]), dtype=model.dtype, device=model.backend.device))


@functools.cache
def _on_host() -> Backend:
    """The NumPy backend a streamed chunk is checked through on the host: a twin of the model's
    own where that is NumPy, so that what it puts on the device is told apart."""
    return get_backend("numpy").variant()


def read_all(backend: Backend, values: dict[str, Array]) -> dict[str, float]:
    """0-D ``values`` computed on the device, read to the host as floats in one read."""
    if len(values) == 1:  # the loss alone (no metrics, no validation): a plain read, the hot path of small nets
        ((key, value),) = values.items()
        return {key: backend.read(value)}
    xp = backend.xp
    dtype = next(iter(values.values())).dtype
    stacked = xp.stack([v if v.dtype == dtype else xp.astype(v, dtype) for v in values.values()])
    host = backend.read(stacked, lambda a: to_numpy(a).tolist())
    return dict(zip(values, host))
