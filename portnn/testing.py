"""Helpers for testing code built on portnn (and portnn itself): backend parametrization,
tolerances by dtype, central-difference gradients and comparisons on the host."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable
from typing import Any

import numpy as np

from ._xp import Backend, available_backends, get_backend, spec_selected, to_numpy
from .train.callbacks import Callback

# Every backend spec the test matrix knows; the ones not usable here are skipped with a reason.
ALL_SPECS = (
    "numpy",
    "array_api_strict",
    "array_api_strict:device1",
    "array_api_strict:no_float64",
    "torch:cpu",
    "jax:cpu",
    "cupy:0",
    "torch:cuda",
    "jax:gpu",
)

# (rtol, atol) for elementwise results; reductions and training get 10x.
TOLERANCES = {"float64": (1e-10, 1e-12), "float32": (1e-5, 1e-6)}


def backend_skip_reason(spec: str) -> str | None:
    """Why ``spec`` cannot be tested here, or None when it can.

    ``PORTNN_BACKENDS=numpy,cupy:0`` narrows the matrix (a library name matches all its specs).
    """
    wanted = os.environ.get("PORTNN_BACKENDS", "").strip()
    if wanted:
        names = {w.strip() for w in wanted.split(",") if w.strip()}
        if not spec_selected(spec, names):
            return f"{spec} not selected by PORTNN_BACKENDS={wanted}"
    try:
        get_backend(spec)
    except ValueError as exc:
        return f"{spec} unavailable: {str(exc).split(';')[0]}"
    return None


def backend_params() -> list[Any]:
    """``pytest.param`` objects for every spec in :data:`ALL_SPECS`, skipped with a reason if absent."""
    import pytest

    return [
        pytest.param(spec, id=spec, marks=[pytest.mark.skip(reason=r)] if (r := backend_skip_reason(spec)) else [])
        for spec in ALL_SPECS
    ]


def assert_close(actual: Any, desired: Any, dtype: str = "float64", scale: float = 1.0, err_msg: str = "") -> None:
    """Compare any two arrays on the host with the tolerance of ``dtype`` (times ``scale``)."""
    rtol, atol = TOLERANCES[dtype]
    np.testing.assert_allclose(
        to_numpy(actual), to_numpy(desired), rtol=rtol * scale, atol=atol * scale, err_msg=err_msg
    )


def numeric_grad(f: Callable[[np.ndarray], float], x: np.ndarray, eps: float = 1e-6) -> np.ndarray:
    """Central-difference gradient of the scalar function ``f`` at the float64 array ``x``."""
    x = np.array(x, dtype=np.float64)
    grad = np.zeros_like(x)
    for i in np.ndindex(x.shape):
        old = x[i]
        x[i] = old + eps
        up = f(x)
        x[i] = old - eps
        down = f(x)
        x[i] = old
        grad[i] = (up - down) / (2 * eps)
    return grad


def assert_on_backend(array: Any, backend: str | Backend) -> None:
    """Assert that ``array`` is an array of ``backend``'s library, on its device."""
    bk = get_backend(backend)
    if not bk.owns(array):
        raise AssertionError(
            f"expected an array of {bk.spec}, got {type(array).__name__} on {getattr(array, 'device', '?')}"
        )


class NoHostSync(Callback):
    """A callback that makes every host read of device data between the start and the end of
    training raise ``RuntimeError``, except the loop's deliberate ones (the loss once per epoch, the
    final finiteness check): see :meth:`Backend.host_sync_forbidden`. ``fit`` passes with it only
    if no training step waits for the device. ``entered`` tells whether the check was armed
    (False on host backends, which have no device to wait for).

    >>> import portnn as pn
    >>> X, y = pn.datasets.xor()
    >>> net = pn.Sequential(pn.Dense(2, 1), backend="numpy", seed=0)
    >>> guard = NoHostSync()
    >>> _ = net.fit(X, y, epochs=2, callbacks=[guard], progress=False)
    >>> guard.entered
    False
    """

    def __init__(self) -> None:
        self.entered = False
        self._stack = contextlib.ExitStack()

    def on_train_begin(self, model: Any) -> None:
        if model.backend.syncs_with_host:
            self._stack.enter_context(model.backend.host_sync_forbidden())
            self.entered = True

    def on_train_end(self, model: Any) -> None:
        self.close()

    def close(self) -> None:
        """Disarm the check (idempotent): call it in a ``finally`` when ``fit`` may raise."""
        self._stack.close()


__all__ = [
    "NoHostSync",
    "ALL_SPECS",
    "TOLERANCES",
    "assert_close",
    "assert_on_backend",
    "available_backends",
    "backend_params",
    "backend_skip_reason",
    "numeric_grad",
]
