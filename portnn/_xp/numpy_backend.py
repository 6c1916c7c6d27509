"""NumPy on the host: arrays are NumPy's own, with ``out=`` fast paths and the bias gradient's
sum over the batch as a BLAS matrix-vector product."""

from __future__ import annotations

from typing import Any

import array_api_compat as compat
import numpy as np

from .arrays import Array
from .outparam import OutParamBackend


class NumpyBackend(OutParamBackend):
    """NumPy itself as the namespace, on the ``"cpu"`` device."""

    library = "numpy"
    arrays_are_numpy = True
    sums_in_order = False  # see ordered_sums

    def __init__(self, spec: str, xp: Any, device: Any, native: Any, *, writeable: bool = True) -> None:
        super().__init__(spec, xp, device, native, writeable=writeable)
        self._ones_cache: dict[tuple[int, Any], np.ndarray] = {}  # batch sizes seen: a handful

    @classmethod
    def for_device(cls, device_name: str) -> NumpyBackend:
        """The backend of spec ``numpy`` or ``numpy:cpu``."""
        if device_name not in ("", "cpu"):
            raise ValueError(f"numpy has only the 'cpu' device, not {device_name!r}")
        return cls("numpy", np, "cpu", np)

    @classmethod
    def device_specs(cls) -> list[str]:
        return ["numpy"]

    @classmethod
    def is_own_array(cls, x: Any) -> bool:
        # a NumPy scalar (np.float64) is not an array; JAX's float0 gradients are not NumPy's
        return compat.is_numpy_array(x) and isinstance(x, np.ndarray)

    def _on_device(self, x: Array) -> bool:
        return True

    @property
    def scipy_special(self) -> Any:  # type: ignore[override]
        try:
            import scipy.special
        except ImportError:  # SciPy is optional: the standard forms in ``special`` stand in
            return None
        return scipy.special

    def _from_host(self, host: np.ndarray) -> Array:
        return host

    # np.dot takes the same BLAS calls as np.matmul for 2-D arrays and gives the same numbers, with
    # less of the generalised-ufunc machinery around them: it costs about half as much on the
    # arrays of a tiny network, where a product's overhead is most of its time.
    def matmul(self, a: Array, b: Array) -> Array:
        return a.dot(b) if a.ndim == 2 == b.ndim else a @ b

    def matmul_into(self, a: Array, b: Array, out: Array) -> Array:
        return _dot_into(a, b, out) if a.ndim == 2 == b.ndim else np.matmul(a, b, out=out)

    def sum0_into(self, a: Array, out: Array) -> Array:
        # ones @ a: a BLAS matrix-vector product, faster than np.sum(axis=0) on a batch of rows;
        # the summation order differs, the sum does not.
        if self.sums_in_order or a.ndim != 2 or a.dtype.kind != "f" or out.dtype != a.dtype:
            return super().sum0_into(a, out)
        return _dot_into(self._ones(a.shape[0], a.dtype), a, out)

    def ordered_sums(self) -> NumpyBackend:
        twin = type(self)(self.spec, self.xp, self.device, self._native, writeable=self.writeable)
        twin.sums_in_order = True
        return twin

    def _ones(self, n: int, dtype: Any) -> np.ndarray:
        key = (n, dtype)
        ones = self._ones_cache.get(key)
        if ones is None:
            ones = self._ones_cache[key] = np.ones(n, dtype)
            ones.flags.writeable = False
        return ones

    def floating_point_errors_ignored(self) -> Any:
        return np.errstate(all="ignore")


def _dot_into(a: np.ndarray, b: np.ndarray, out: np.ndarray) -> np.ndarray:
    """``np.dot(a, b, out=out)`` (a 2-D or 1-D ``a``, a 2-D ``b``); ``np.matmul`` where ``out`` is
    not what np.dot insists on (C-contiguous, of the product's dtype)."""
    try:
        return np.dot(a, b, out=out)
    except ValueError:
        return np.matmul(a, b, out=out)
