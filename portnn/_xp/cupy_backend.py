"""CuPy on one CUDA device: ``out=`` fast paths, the per-step updates as vector kernels
(:mod:`.cupy_kernels`) or fused elementwise ones, ``vdot`` for sums of squares,
``cupyx.allow_synchronize`` and the memory pool's size."""

from __future__ import annotations

from typing import Any

import array_api_compat as compat
import numpy as np

from .arrays import Array, register_vdot
from .cupy_kernels import VectorKernels
from .libraries import _import
from .outparam import OutParamBackend


class CupyBackend(OutParamBackend):
    """CuPy arrays (through array-api-compat's namespace) on one CUDA device."""

    library = "cupy"

    def __init__(self, spec: str, xp: Any, device: Any, native: Any, *, writeable: bool = True) -> None:
        super().__init__(spec, xp, device, native, writeable=writeable)
        self._vector = VectorKernels(native)
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

    @classmethod
    def device_specs(cls) -> list[str]:
        try:
            count = _import("cupy").cuda.runtime.getDeviceCount()
        except Exception:  # not installed, or no driver: `import cupy` works without a GPU
            return []
        return [f"cupy:{i}" for i in range(count)]

    @classmethod
    def is_own_array(cls, x: Any) -> bool:
        return compat.is_cupy_array(x)

    @classmethod
    def to_host(cls, x: Any, copy: bool = True) -> np.ndarray:
        return x.get()  # type: ignore[no-any-return]

    @classmethod
    def device_name_of(cls, x: Any) -> str:
        return str(x.device.id)

    @classmethod
    def names_gpu(cls, device_name: str) -> bool:
        return True

    @classmethod
    def spec_for_rank(cls, device_name: str, local_rank: int) -> str:
        return f"cupy:{local_rank}"

    def _on_device(self, x: Array) -> bool:
        return x.device.id == self.device.id  # type: ignore[no-any-return]

    def _from_host(self, host: np.ndarray) -> Array:
        with self.device:
            return self._native.asarray(host)

    def synchronize(self, *arrays: Array) -> None:
        self.device.synchronize()

    @property
    def on_gpu(self) -> bool:
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

    def sub_scaled(self, a: Array, b: Array, scale: float, scratch: Array | None = None) -> Array:
        # one kernel, b left as it was: no scratch space needed
        if not self.writeable:
            return a - scale * b
        if self._scale_on_device(scale, a) and self._vector.fits(a, b) and a.shape == b.shape:
            self._vector.launch("sub_scaled", (a, b, scale))
        else:
            self._fused_sub_scaled(b, scale, a)
        return a

    def _scale_on_device(self, scale: Any, a: Array) -> bool:
        return isinstance(scale, self._native.ndarray) and scale.size == 1 and scale.dtype == a.dtype

    def relu_grad(self, y: Array, dy: Array) -> Array:
        if not self.writeable:
            return super().relu_grad(y, dy)
        if self._vector.fits(y, dy) and y.shape == dy.shape:
            self._vector.launch("relu_grad", (y, dy))
        else:
            self._fused_relu_grad(y, dy)
        return dy

    def maximum(self, x: Array, value: float, in_place: bool = False) -> Array:
        if in_place and self.writeable and self._vector.fits(x):
            self._vector.launch("maximum", (x, x), (float(value),))
            return x
        return super().maximum(x, value, in_place)

    def sum0_into(self, a: Array, out: Array) -> Array:
        lanes = self._vector.lanes(a.dtype)
        if a.ndim == 2 and out.shape == a.shape[1:] and lanes and a.shape[1] % lanes == 0 and self._vector.fits(a, out):
            self._vector.sum0(a, out)
            return out
        return super().sum0_into(a, out)

    def add_bias(self, y: Array, bias: Array) -> Array:
        lanes = self._vector.lanes(y.dtype)
        rows_of_vectors = y.ndim == 2 and bias.shape == y.shape[1:] and lanes and y.shape[1] % lanes == 0
        if self.writeable and rows_of_vectors and self._vector.fits(y, bias):
            self._vector.launch("add_bias", (y, bias), (self._native.int64(y.shape[1] // lanes),))
            return y
        return super().add_bias(y, bias)

    def gradient_transport(self, comm: Any) -> Any:
        """NCCL (``cupy.cuda.nccl``) between the ranks' GPUs."""
        from .nccl import CupyNcclTransport

        return CupyNcclTransport(self, comm)
