"""CuPy on one CUDA device: ``out=`` fast paths, the SGD step as one fused kernel, ``vdot`` for
sums of squares, ``cupyx.allow_synchronize`` and the memory pool's size."""

from __future__ import annotations

from typing import Any

import numpy as np

from .arrays import Array, register_vdot
from .libraries import _import
from .outparam import OutParamBackend


class CupyBackend(OutParamBackend):
    """CuPy arrays (through array-api-compat's namespace) on one CUDA device."""

    library = "cupy"

    def __init__(self, spec: str, xp: Any, device: Any, native: Any, *, writeable: bool = True) -> None:
        super().__init__(spec, xp, device, native, writeable=writeable)
        # p -= s * g in one pass over the parameter, g left as it was
        self._fused_sub_scaled = native.ElementwiseKernel("T g, T s", "T p", "p -= s * g", "portnn_sub_scaled")
        # dy = 0 where the ReLU's output y is not positive, in one pass (no boolean mask array)
        self._fused_relu_grad = native.ElementwiseKernel("T y", "T dy", "if (!(y > 0)) dy = 0", "portnn_relu_grad")

    @classmethod
    def for_device(cls, device_name: str) -> CupyBackend:
        """The backend of spec ``cupy`` (device 0) or ``cupy:N``."""
        cupy = _import("cupy")
        index = int(device_name or 0)
        # `import cupy` succeeds on machines without a GPU; asking the runtime is what fails there.
        count = cupy.cuda.runtime.getDeviceCount()
        if index >= count:
            raise RuntimeError(f"CUDA has {count} device(s), no device {index}")
        xp = _import("array_api_compat.cupy")
        register_vdot(xp, cupy.vdot)
        return cls(f"cupy:{index}", xp, cupy.cuda.Device(index), cupy)

    def _on_device(self, x: Array) -> bool:
        return x.device.id == self.device.id  # type: ignore[no-any-return]

    def _from_host(self, host: np.ndarray) -> Array:
        with self.device:
            return self._native.asarray(host)

    def synchronize(self, *arrays: Array) -> None:
        self.device.synchronize()

    @property
    def syncs_with_host(self) -> bool:
        return True

    def _sync_mode(self, allowed: bool) -> Any:
        cupyx = _import("cupyx")
        if not hasattr(cupyx, "allow_synchronize"):
            raise NotImplementedError(f"CuPy {self._native.__version__} has no cupyx.allow_synchronize")
        return cupyx.allow_synchronize(allowed)

    def reset_peak_memory(self) -> None:
        self._native.get_default_memory_pool().free_all_blocks()

    def peak_memory_bytes(self) -> int | None:
        return int(self._native.get_default_memory_pool().total_bytes())

    def sub_scaled(self, a: Array, b: Array, scale: float) -> Array:
        if self.writeable:
            self._fused_sub_scaled(b, scale, a)
            return a
        return a - scale * b

    def relu_grad(self, y: Array, dy: Array) -> Array:
        if self.writeable:
            self._fused_relu_grad(y, dy)
            return dy
        return super().relu_grad(y, dy)

    def gradient_transport(self, comm: Any) -> Any:
        """NCCL (``cupy.cuda.nccl``) between the ranks' GPUs."""
        from .nccl import CupyNcclTransport

        return CupyNcclTransport(self, comm)
