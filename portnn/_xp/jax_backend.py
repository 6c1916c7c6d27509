"""JAX on a CPU or GPU device: immutable arrays (updates rebind), whole functions compiled with
``jax.jit``, float64 only under ``JAX_ENABLE_X64``, the device-to-host transfer guard."""

from __future__ import annotations

from typing import Any

import array_api_compat as compat
import numpy as np

from .arrays import Array
from .base import Backend
from .libraries import _import, installed


class JaxBackend(Backend):
    """``jax.numpy`` on one device."""

    library = "jax"
    compiles = True
    _float64_hint = " (set JAX_ENABLE_X64=1 before importing jax)"

    @classmethod
    def for_device(cls, device_name: str) -> JaxBackend:
        """The backend of spec ``jax`` (JAX's default device), ``jax:cpu``, ``jax:gpu[:N]``."""
        jax = _import("jax")
        platform, _, index = device_name.partition(":")
        platform = {"cuda": "gpu"}.get(platform, platform)
        devices = jax.devices(platform) if platform else jax.devices()
        device = devices[int(index or 0)]
        kind = "gpu" if device.platform in ("gpu", "cuda", "rocm") else device.platform
        spec = f"jax:{kind}" if not index or index == "0" else f"jax:{kind}:{index}"
        return cls(spec, _import("jax.numpy"), device, jax, writeable=False)

    @classmethod
    def pin_full_precision(cls) -> None:
        jax = installed("jax")
        if jax is not None:
            jax.config.update("jax_default_matmul_precision", "highest")

    @classmethod
    def device_specs(cls) -> list[str]:
        jax, specs = installed("jax"), []
        for platform in ("cpu", "gpu") if jax is not None else ():
            try:
                devices = jax.devices(platform)
            except RuntimeError:  # no such platform here
                continue
            specs += [f"jax:{platform}{f':{i}' if i else ''}" for i in range(len(devices))]
        return specs

    @classmethod
    def is_own_array(cls, x: Any) -> bool:
        return compat.is_jax_array(x)

    @classmethod
    def device_name_of(cls, x: Any) -> str:
        (device,) = x.devices()
        return f"{'cpu' if device.platform == 'cpu' else 'gpu'}:{device.id}"

    @classmethod
    def names_gpu(cls, device_name: str) -> bool:
        return device_name.startswith(("gpu", "cuda"))

    @classmethod
    def spec_for_rank(cls, device_name: str, local_rank: int) -> str:
        return f"jax:gpu:{local_rank}" if cls.names_gpu(device_name) else super().spec_for_rank(device_name, 0)

    def _on_device(self, x: Array) -> bool:
        return x.devices() == {self.device}  # type: ignore[no-any-return]

    def synchronize(self, *arrays: Array) -> None:
        if arrays:
            self._native.block_until_ready(arrays)

    @property
    def on_gpu(self) -> bool:
        return bool(self.device.platform != "cpu")

    def _sync_mode(self, allowed: bool) -> Any:
        return self._native.transfer_guard_device_to_host("allow" if allowed else "disallow")

    def _host_value(self, x: Array) -> Any:
        # NumPy's view of the array: float(np.asarray(x)) is several times faster than float(x)
        # on a JAX array (the loss read once per epoch: a tiny network's epochs pay for it)
        return np.asarray(x)

    def constant(self, value: float, dtype: Any) -> Any:
        return np.asarray(value, dtype=np.dtype(dtype))

    def compile(self, fn: Any) -> Any:
        return self._native.jit(fn)

    def compiled_scalar(self, value: float) -> Any:
        return self._native.device_put(value, self.device)  # weakly typed, as the number is
