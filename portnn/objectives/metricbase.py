"""The metric contract (:class:`Metric`), its registry by name, the helpers metrics share, and
:class:`MetricSet`, the metrics of one ``fit`` or ``evaluate``. The metrics themselves are in
:mod:`portnn.objectives.metrics` (where the module's story is told).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, ClassVar

from .._checks import by_name
from . import misuse

if TYPE_CHECKING:
    from ..nn.network import Network
    from .lossbase import Loss

Array = Any
Stats = tuple[Array, ...]

METRICS: dict[str, Any] = {}  # name -> class; every subclass with a name registers itself


class Metric:
    """Base class: implement ``statistics`` and ``compute`` (and ``combine`` where the sums do not
    simply add up), all with the Array API namespace ``xp`` (they are traced on JAX)."""

    name = ""
    higher_is_better: ClassVar[bool] = True  # EarlyStopping(mode="auto") maximizes such metrics
    output_kind: str | None = None  # what the model outputs: set by fit and evaluate (see bind)
    _stats: Stats | None = None
    _xp: Any = None

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if cls.__dict__.get("name"):
            METRICS[cls.name] = cls

    def bind(self, output_kind: str | None) -> None:
        """Learn what the model outputs: ``"logits"``, ``"probability"`` or ``"distribution"``."""
        self.output_kind = output_kind

    def statistics(self, xp: Any, pred: Array, target: Array, weight: Array | None) -> Stats:
        """The batch's sums (arrays; ``weight``, one per row, or None for all ones)."""
        raise NotImplementedError

    def combine(self, xp: Any, stacked: Stats) -> Stats:
        """The sums of many batches from theirs stacked along a new first axis (here: added up)."""
        return tuple(xp.sum(s, axis=0) for s in stacked)

    def compute(self, xp: Any, stats: Stats) -> Array:
        """The metric's value (0-D) from the sums."""
        raise NotImplementedError

    def update(self, xp: Any, pred: Array, target: Array, weight: Array | None = None) -> None:
        """Add a batch (on the device: nothing is read)."""
        stats = self.statistics(xp, pred, target, weight)
        if self._stats is not None:
            stats = self.combine(xp, tuple(xp.stack([a, b]) for a, b in zip(self._stats, stats)))
        self._xp, self._stats = xp, stats

    def result(self) -> Array:
        """The value over the batches added since the last :meth:`reset`, a 0-D array."""
        if self._stats is None:
            raise ValueError(f"{self.name or type(self).__name__}: no batch was added; call update first")
        return self._xp.asarray(self.compute(self._xp, self._stats))

    def reset(self) -> None:
        self._stats = None

    def get_config(self) -> dict[str, Any]:
        return {k: v for k, v in vars(self).items() if not k.startswith("_") and k != "output_kind"}

    def __repr__(self) -> str:
        return f"{type(self).__name__}({', '.join(f'{k}={v!r}' for k, v in self.get_config().items())})"


def total_weight(xp: Any, pred: Array, weight: Array | None) -> Array:
    """The batch's total weight (its number of rows when unweighted), 0-D of ``pred``'s dtype."""
    if weight is not None:
        return xp.sum(weight)
    # A JAX tracer has no device; inside jit the default device is the computation's.
    return xp.full((), float(pred.shape[0]), dtype=pred.dtype, device=getattr(pred, "device", None))


def weighted_sum(xp: Any, values: Array, weight: Array | None) -> Array:
    """``sum_i w_i v_i`` over the rows of ``values`` (each row's values summed)."""
    if weight is None:
        return xp.sum(values)
    return xp.sum(values * xp.reshape(weight, (values.shape[0],) + (1,) * (len(values.shape) - 1)))


def as_columns(xp: Any, target: Array, pred: Array) -> Array:
    """``target`` shaped like ``pred``: 1-D targets for one output become a column."""
    if len(target.shape) == 1 and len(pred.shape) == 2 and pred.shape[1] == 1:
        target = xp.reshape(target, (target.shape[0], 1))
    if tuple(target.shape) != tuple(pred.shape):
        raise ValueError(f"target shape {tuple(target.shape)} differs from prediction shape {tuple(pred.shape)}")
    return target if target.dtype == pred.dtype else xp.astype(target, pred.dtype)


def class_index(xp: Any, target: Array) -> Array:
    """Each row's class: integer labels ``(n,)`` as they are, one-hot or probability rows by argmax."""
    if len(target.shape) == 2:
        return xp.argmax(target, axis=1)
    return target if xp.isdtype(target.dtype, "integral") else xp.astype(target, xp.int64)


def positive(xp: Any, total: Array) -> Array:
    return xp.where(total > 0.0, total, 1.0)


def get_metric(metric: str | Metric) -> Metric:
    """A metric by name (``"accuracy"``) or the object itself."""
    return by_name("metric", metric, Metric, METRICS)  # type: ignore[no-any-return]


def output_kind(model: Network, loss: Loss) -> str:
    """What ``model`` outputs, for the metrics that care (accuracy's threshold): what ``loss`` takes
    where it says; else probabilities where the last layer declares them; else ``"real"`` (plain
    values, e.g. a regression-style model trained with MSE: thresholded at 0.5, as Keras does)."""
    need = loss.expects()
    if need in ("logits", "probability", "distribution"):
        return need  # type: ignore[return-value]
    found = misuse.last_layer(model)
    kind = found[1].output_kind if found is not None else None
    return kind if kind in ("probability", "distribution") else "real"


class MetricSet:
    """The metrics of one ``fit`` or ``evaluate``, bound to what the model outputs, each under the
    name it was given (a metric object: its ``name``). Called on a batch, it returns all their
    statistics (the training step observes it, compiled with the step on JAX: equal sets, of the
    same classes, settings and output kind, share compiled code); :meth:`values` combines the
    statistics of many batches into each metric's value, on the device."""

    def __init__(self, metrics: Sequence[str | Metric], kind: str | None) -> None:
        if isinstance(metrics, (str, Metric)):
            metrics = [metrics]
        self.metrics = [get_metric(m) for m in metrics]
        self.names = [m.lower() if isinstance(m, str) else metric.name for m, metric in zip(metrics, self.metrics)]
        for i, name in enumerate(self.names):
            if not name or name in ("loss", *self.names[:i]):
                raise ValueError(f"metrics: {name!r} is not a usable name here (empty, 'loss', or given twice)")
        for metric in self.metrics:
            metric.bind(kind)
        self.key = tuple((type(m), repr(sorted(m.get_config().items())), m.output_kind) for m in self.metrics)

    def __len__(self) -> int:
        return len(self.metrics)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, MetricSet) and other.key == self.key

    def __hash__(self) -> int:
        return hash(self.key)

    def __call__(self, xp: Any, pred: Array, target: Array, weight: Array | None) -> list[Stats]:
        return [m.statistics(xp, pred, target, weight) for m in self.metrics]

    def values(self, xp: Any, batches: Sequence[Sequence[Stats]]) -> dict[str, Array]:
        """Each metric's value (0-D, on the device) over ``batches``, each batch's statistics as
        returned by a call."""
        out = {}
        for i, (name, metric) in enumerate(zip(self.names, self.metrics)):
            parts = [b[i] for b in batches]
            stats = parts[0] if len(parts) == 1 else metric.combine(xp, tuple(xp.stack(s) for s in zip(*parts)))
            out[name] = metric.compute(xp, stats)
        return out
