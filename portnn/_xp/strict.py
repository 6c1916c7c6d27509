"""array_api_strict: the Array API standard and nothing more, computing with NumPy; its devices
(``CPU_DEVICE``, ``device1``, ``no_float64``) test device handling without a GPU."""

from __future__ import annotations

from typing import Any

import array_api_compat as compat
import numpy as np

from .base import Backend
from .libraries import _import, installed


class StrictBackend(Backend):
    """array_api_strict on one of its devices; only the generic paths."""

    library = "array_api_strict"

    @classmethod
    def for_device(cls, device_name: str) -> StrictBackend:
        """The backend of spec ``array_api_strict`` (its ``CPU_DEVICE``) or ``array_api_strict:NAME``."""
        xps = _import("array_api_strict")
        names = [_device_name(d) for d in xps.__array_namespace_info__().devices()]
        name = device_name or "CPU_DEVICE"
        if name not in names:
            raise ValueError(f"array_api_strict has devices {names}, not {name!r}")
        spec = "array_api_strict" if name == "CPU_DEVICE" else f"array_api_strict:{name}"
        return cls(spec, xps, xps.Device(name), xps)

    @classmethod
    def device_specs(cls) -> list[str]:
        xps = installed("array_api_strict")
        devices = xps.__array_namespace_info__().devices() if xps is not None else ()
        return [cls.library + ("" if d == "CPU_DEVICE" else f":{d}") for d in map(_device_name, devices)]

    @classmethod
    def is_own_array(cls, x: Any) -> bool:
        # array-api-compat has no is_*_array for it, and its Array class is not public: ask the
        # type's module, as array-api-compat's helpers do (never importing the library to answer)
        return type(x).__module__.partition(".")[0] == "array_api_strict"

    @classmethod
    def to_host(cls, x: Any, copy: bool = True) -> np.ndarray:
        host = np.from_dlpack(compat.to_device(x, _import("array_api_strict").Device("CPU_DEVICE")))
        return host.copy() if copy else host

    @classmethod
    def device_name_of(cls, x: Any) -> str:
        return _device_name(compat.device(x))

    def floating_point_errors_ignored(self) -> Any:
        return np.errstate(all="ignore")  # array_api_strict computes with NumPy


def _device_name(device: Any) -> str:
    """``"device1"`` for ``array_api_strict.Device('device1')``: its devices' only public face is
    their repr."""
    return str(device).split("'")[1]
