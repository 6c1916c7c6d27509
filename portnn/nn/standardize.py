"""Standardize: features centred and scaled by statistics of the training data, kept in the model
(Keras's ``Normalization``), so a saved model takes raw features."""

from __future__ import annotations

from typing import Any

import numpy as np

from .. import _checks
from .._xp import Backend, backend_of, to_numpy
from .layers import Array, Backprop, Layer


class Standardize(Layer):
    """``Y = (X - mean) / sqrt(var)`` per feature, with the mean and (biased) variance that
    :meth:`adapt` computes from data: Keras's ``Normalization``. A feature of variance 0 is only
    centred.

    ``mean`` and ``var`` are buffers: saved with the model, moved by ``to()``, never trained. Put
    the layer first and fit on raw features; a saved model then predicts from raw features too.
    Before ``adapt`` the layer passes its input through (mean 0, variance 1).

    >>> import portnn as pn
    >>> X = [[1.0, 10.0], [3.0, 30.0]]
    >>> net = pn.Sequential(pn.Standardize(2).adapt(X), pn.Dense(2, 1), seed=0)
    >>> pn.to_numpy(net.layers[0].buffers["mean"]).tolist()
    [2.0, 20.0]
    >>> pn.to_numpy(net.layers[0].forward(net.xp.asarray([[3.0, 10.0]], dtype=net.dtype), False)[0]).tolist()
    [[1.0, -1.0]]
    """

    output_kind = "real"
    fixed_buffers = True

    @classmethod
    def example(cls) -> Standardize:
        return cls(4).adapt(np.random.default_rng(3).normal(2.0, 3.0, size=(16, 4)))

    def __init__(self, n: int) -> None:
        super().__init__()
        self.n: int = _checks.positive_int("n", n)  # type: ignore[assignment]
        # the statistics on the host until a model places them; from then on its buffers hold them
        self.host_stats = {"mean": np.zeros(self.n), "var": np.ones(self.n)}

    def init_buffers(self) -> dict[str, np.ndarray]:
        return {k: v.copy() for k, v in self.host_stats.items()}

    def output_size(self, n_in: int | None) -> int:
        if n_in is not None and n_in != self.n:
            raise ValueError(f"Standardize: expected {self.n} input features, the layer before gives {n_in}")
        return self.n

    def adapt(self, X: Any, batch_size: int | None = 65536) -> Standardize:
        """Set ``mean`` and ``var`` to each feature's mean and variance over the rows of ``X``,
        accumulated in float64 where the device has it, ``batch_size`` rows at a time, on the
        device of the model holding the layer (before it has one: where ``X`` is). Returns the layer.
        """
        X = _checks.kind_check("X", X)
        if len(X.shape) != 2 or X.shape[0] == 0 or X.shape[1] != self.n:
            raise ValueError(
                f"X: expected a 2-D array of {self.n} features and at least one row, got shape {tuple(X.shape)}"
            )
        size = _checks.positive_int("batch_size", batch_size, allow_none=True) or X.shape[0]
        bound = "backend" in self.__dict__
        backend: Backend = self.backend if bound else backend_of(X)
        mean, var = _moments(backend, X, size)
        if not (np.isfinite(mean).all() and np.isfinite(var).all()):
            _checks.features("X", X, backend, backend.dtype("float32"), self.n)  # names the row
        self.host_stats = {"mean": mean, "var": var}
        if bound:
            for key, value in self.host_stats.items():
                self.buffers[key] = backend.copy_into(self.buffers[key], backend.asarray(value, self.dtype))
        return self

    def forward(self, X: Array, training: bool) -> tuple[Array, Backprop]:
        xp, var = self.xp, self.buffers["var"]
        scale = 1.0 / xp.sqrt(xp.where(var > 0.0, var, xp.ones_like(var)))

        def backprop(dY: Array, input_grad: bool = True) -> Array:
            return dY * scale

        return (X - self.buffers["mean"]) * scale, backprop

    def get_config(self) -> dict[str, Any]:
        return {"n": self.n}


def _moments(backend: Backend, X: Any, size: int) -> tuple[np.ndarray, np.ndarray]:
    """Each column's mean and biased variance, batch by batch on ``backend``, merged as Chan et al.
    do (stable, one pass); read to the host once, as float64."""
    xp = backend.xp
    dtype = backend.dtype("float64" if backend.float64 else "float32")
    mean = m2 = xp.zeros((X.shape[1],), dtype=dtype, device=backend.device)
    count = 0
    for a in range(0, X.shape[0], size):
        batch = backend.asarray(X[a : a + size, ...], dtype)
        rows = batch.shape[0]
        batch_mean = xp.mean(batch, axis=0)
        batch_m2 = xp.sum((batch - batch_mean) ** 2, axis=0)
        delta, total = batch_mean - mean, count + rows
        mean = mean + delta * (rows / total)
        m2 = m2 + batch_m2 + delta * delta * (count * rows / total)
        count = total
    stacked = to_numpy(xp.stack([mean, m2 / count]))
    return stacked[0].astype(np.float64), stacked[1].astype(np.float64)
