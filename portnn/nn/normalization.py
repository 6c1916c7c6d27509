"""Normalization layers: LayerNorm (each row over its features) and BatchNorm (each feature over
the batch, with running statistics kept as buffers), with PyTorch's semantics and analytic backprop.

Both learn a per-feature scale ``weight`` (initially ones) and shift ``bias`` (initially zeros):
``Y = (X - mean) / sqrt(var + eps) * weight + bias``, with the biased variance.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from .._checks import positive_int
from .layers import Array, Backprop, Layer


def _number(name: str, value: Any, low: float, high: float, low_open: bool) -> float:
    """``value`` as a float in ``[low, high]`` (``(low, high]`` when ``low_open``), else ValueError naming it."""
    ok = isinstance(value, (int, float, np.integer, np.floating)) and not isinstance(value, bool)
    ok = ok and math.isfinite(value) and (value > low if low_open else value >= low) and value <= high
    if not ok:
        interval = f"{'(' if low_open else '['}{low}, {high}]".replace("inf]", "inf)")
        raise ValueError(f"{name}: expected a number in {interval}, got {value!r}")
    return float(value)


class _Norm(Layer):
    """What LayerNorm and BatchNorm share: ``n`` features, ``eps``, the affine parameters."""

    abstract = True
    output_kind = "real"

    def __init__(self, n: int, eps: float = 1e-5) -> None:
        super().__init__()
        self.n: int = positive_int("n", n)  # type: ignore[assignment]
        self.eps = _number("eps", eps, 0.0, math.inf, low_open=True)

    @classmethod
    def example(cls) -> Layer:
        return cls(4)

    def init_params(self, rng: np.random.Generator) -> dict[str, np.ndarray]:
        return {"weight": np.ones(self.n), "bias": np.zeros(self.n)}

    def output_size(self, n_in: int | None) -> int:
        if n_in is not None and n_in != self.n:
            raise ValueError(f"{type(self).__name__}: expected {self.n} input features, the layer before gives {n_in}")
        return self.n

    def affine(self, xhat: Array, scale: Array, axis: int | None) -> tuple[Array, Backprop]:
        """``xhat * weight + bias`` and its backprop. ``scale`` is ``1 / sqrt(var + eps)`` (broadcast
        against ``xhat``); ``axis`` is the axis the statistics were taken over, or None where they
        are fixed (BatchNorm's running statistics, in inference)."""
        xp, bk, grads = self.xp, self.backend, self.grads
        weight = self.params["weight"]
        Y = xhat * weight + self.params["bias"]

        def backprop(dY: Array, input_grad: bool = True) -> Array | None:
            grads["weight"] = bk.sum0_into(dY * xhat, grads["weight"])
            grads["bias"] = bk.sum0_into(dY, grads["bias"])
            if not input_grad:
                return None
            g = dY * weight  # the gradient for xhat
            if axis is None:
                return g * scale
            # dX = scale * (g - mean(g) - xhat * mean(g * xhat)), means over the normalized axis
            mean_g = xp.mean(g, axis=axis, keepdims=True)
            mean_gx = xp.mean(g * xhat, axis=axis, keepdims=True)
            return (g - mean_g - xhat * mean_gx) * scale

        return Y, backprop

    def normalize(self, X: Array, axis: int) -> tuple[Array, Array, Array, Array]:
        """``(xhat, 1 / sqrt(var + eps), mean, var)`` with the statistics of ``X`` over ``axis``
        (biased variance), kept as dimensions for broadcasting."""
        xp = self.xp
        mean = xp.mean(X, axis=axis, keepdims=True)
        centered = X - mean
        var = xp.mean(centered * centered, axis=axis, keepdims=True)
        scale = 1.0 / xp.sqrt(var + self.eps)
        return centered * scale, scale, mean, var


class LayerNorm(_Norm):
    """Normalize each row over its ``n`` features, then scale and shift per feature (like
    ``torch.nn.LayerNorm(n)``); the same in training and inference.

    >>> import portnn as pn
    >>> net = pn.Sequential(pn.LayerNorm(3), backend="numpy", dtype="float64")
    >>> net([[1.0, 2.0, 3.0]]).round(4).tolist()
    [[-1.2247, 0.0, 1.2247]]
    """

    def forward(self, X: Array, training: bool) -> tuple[Array, Backprop]:
        xhat, scale = self.normalize(X, axis=-1)[:2]
        return self.affine(xhat, scale, axis=-1)

    def get_config(self) -> dict[str, Any]:
        return {"n": self.n, "eps": self.eps}


class BatchNorm(_Norm):
    """Normalize each of the ``n`` features over the batch, then scale and shift it (like
    ``torch.nn.BatchNorm1d(n)`` on ``(batch, n)`` inputs).

    Training uses the batch's statistics and updates the buffers ``running_mean`` and
    ``running_var`` (``running = (1 - momentum) * running + momentum * batch``, with the unbiased
    batch variance); inference uses the running statistics, so each row's output is its own.

    >>> import portnn as pn
    >>> net = pn.Sequential(pn.BatchNorm(2), backend="numpy", dtype="float64")
    >>> sorted(b.name for b in net.buffers()), [p.name for p in net.parameters()]
    (['0.running_mean', '0.running_var'], ['0.weight', '0.bias'])
    """

    min_batch_rows = 2  # the batch variance needs two rows

    def __init__(self, n: int, momentum: float = 0.1, eps: float = 1e-5) -> None:
        super().__init__(n, eps)
        self.momentum = _number("momentum", momentum, 0.0, 1.0, low_open=False)

    def init_buffers(self) -> dict[str, np.ndarray]:
        return {"running_mean": np.zeros(self.n), "running_var": np.ones(self.n)}

    def forward(self, X: Array, training: bool) -> tuple[Array, Backprop]:
        if not training:
            scale = 1.0 / self.xp.sqrt(self.buffers["running_var"] + self.eps)
            return self.affine((X - self.buffers["running_mean"]) * scale, scale, axis=None)
        rows = X.shape[0]
        if rows < 2:
            raise ValueError(
                f"BatchNorm: training needs at least 2 rows per batch to estimate the batch variance, got {rows} "
                "(use a larger batch_size, or drop a last batch of one row)"
            )
        xhat, scale, mean, var = self.normalize(X, axis=0)
        self.update_running(mean[0, ...], var[0, ...] * (rows / (rows - 1)))
        return self.affine(xhat, scale, axis=0)

    def update_running(self, mean: Array, unbiased_var: Array) -> None:
        """``running = (1 - momentum) * running + momentum * batch``: in place where arrays are
        writeable, rebound where not (JAX)."""
        bk, m, buffers = self.backend, self.momentum, self.buffers
        for name, batch in (("running_mean", mean), ("running_var", unbiased_var)):
            buffers[name] = bk.iadd(bk.imul(buffers[name], 1.0 - m), batch * m)

    def get_config(self) -> dict[str, Any]:
        return {"n": self.n, "momentum": self.momentum, "eps": self.eps}
