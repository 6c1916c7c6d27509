"""NumPy on the host: arrays are NumPy's own, with ``out=`` fast paths."""

from __future__ import annotations

from typing import Any

import numpy as np

from .arrays import Array
from .outparam import OutParamBackend


class NumpyBackend(OutParamBackend):
    """NumPy itself as the namespace, on the ``"cpu"`` device."""

    library = "numpy"

    @classmethod
    def for_device(cls, device_name: str) -> NumpyBackend:
        """The backend of spec ``numpy`` or ``numpy:cpu``."""
        if device_name not in ("", "cpu"):
            raise ValueError(f"numpy has only the 'cpu' device, not {device_name!r}")
        return cls("numpy", np, "cpu", np)

    def _on_device(self, x: Array) -> bool:
        return True

    def _from_host(self, host: np.ndarray) -> Array:
        return host

    def floating_point_errors_ignored(self) -> Any:
        return np.errstate(all="ignore")
