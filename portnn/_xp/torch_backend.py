"""torch on a CPU or CUDA device, through array-api-compat's namespace with its slowest wrappers
replaced; ``out=`` fast paths, pinned host-to-device copies and the CUDA sync debug mode."""

from __future__ import annotations

import contextlib
import types
import warnings
from collections.abc import Callable, Iterator
from typing import Any

import array_api_compat as compat
import numpy as np

from .arrays import Array, register_vdot
from .libraries import _import, installed
from .outparam import OutParamBackend

# Host arrays up to this size reach a CUDA device through pinned memory without waiting (torch):
# shuffle orders and Dropout masks inside an epoch; larger ones (data sets) take the blocking copy.
_PINNED_COPY_BYTES = 16 * 2**20


class TorchBackend(OutParamBackend):
    """torch tensors on one device."""

    library = "torch"

    @classmethod
    def for_device(cls, device_name: str) -> TorchBackend:
        """The backend of spec ``torch`` (torch's default device), ``torch:cpu``, ``torch:cuda[:N]``."""
        torch = _import("torch")
        xp = _torch_namespace(torch)
        device = torch.device(device_name) if device_name else torch.get_default_device()
        if device.type == "cuda" and not torch.cuda.is_available():
            raise RuntimeError("torch reports no CUDA device")
        if device.type == "cuda" and device.index is None:
            device = torch.device("cuda", torch.cuda.current_device())
        spec = f"torch:{device.type}" if device.index in (None, 0) else f"torch:{device}"
        return cls(spec, xp, device, torch)

    @classmethod
    def device_specs(cls) -> list[str]:
        torch = installed("torch")
        if torch is None:
            return []
        count = torch.cuda.device_count() if torch.cuda.is_available() else 0
        return ["torch:cpu"] + [f"torch:cuda{f':{i}' if i else ''}" for i in range(count)]

    @classmethod
    def is_own_array(cls, x: Any) -> bool:
        return compat.is_torch_array(x)

    @classmethod
    def to_host(cls, x: Any, copy: bool = True) -> np.ndarray:
        host = x.detach().cpu().resolve_conj().resolve_neg().numpy()
        return host.copy() if copy else host

    @classmethod
    def device_name_of(cls, x: Any) -> str:
        return str(x.device)

    @classmethod
    def names_gpu(cls, device_name: str) -> bool:
        return device_name.startswith("cuda")

    @classmethod
    def spec_for_rank(cls, device_name: str, local_rank: int) -> str:
        return f"torch:cuda:{local_rank}" if cls.names_gpu(device_name) else super().spec_for_rank(device_name, 0)

    @classmethod
    def pin_full_precision(cls) -> None:
        torch = installed("torch")
        if torch is None:
            return
        torch.backends.cuda.matmul.allow_tf32 = False
        torch.backends.cudnn.allow_tf32 = False
        torch.set_float32_matmul_precision("highest")

    @property
    def sigmoid_kernels(self) -> Any:  # type: ignore[override]
        # torch's sigmoid and the kernel its autograd runs backwards: one operation each (the tanh
        # form takes four and three, each paying torch's dispatch, and on CUDA a kernel launch)
        return self._native.sigmoid, self._native.ops.aten.sigmoid_backward.default

    @property
    def scipy_special(self) -> Any:  # type: ignore[override]
        # torch's own expit and xlogy (equal to SciPy's up to rounding, as the standard's forms are):
        # one operation each where those take 3 and 8, ~45 us of a 660 us step at batch 200
        return self._native.special

    def _supports_float64(self) -> bool:
        # torch's inspection API lists float64 for every device; Apple's MPS has none
        return super()._supports_float64() and self.device.type != "mps"

    @property
    def torch_device(self) -> Any:
        return self.device

    def _from_host(self, host: np.ndarray) -> Array:
        if not host.flags.writeable:
            host = host.copy()  # torch warns on read-only memory (it would share it)
        if self.device.type == "cuda" and host.nbytes <= _PINNED_COPY_BYTES:
            # A copy from pageable memory makes the host wait for the device; from pinned memory it
            # is queued like a kernel (torch's host allocator keeps the buffer until it is done).
            with contextlib.suppress(TypeError):  # a dtype torch lacks takes the generic path
                pinned = self._native.from_numpy(np.ascontiguousarray(host)).pin_memory()
                return pinned.to(self.device, non_blocking=True)
        return self.xp.asarray(host, device=self.device)

    def synchronize(self, *arrays: Array) -> None:
        if self.device.type == "cuda":
            self._native.cuda.synchronize(self.device)

    @property
    def on_gpu(self) -> bool:
        return bool(self.device.type == "cuda")

    def _sync_mode(self, allowed: bool) -> Any:
        return _torch_sync_debug_mode(self._native, "default" if allowed else "error")

    def reset_peak_memory(self) -> None:
        if self.device.type == "cuda":
            self._native.cuda.reset_peak_memory_stats(self.device)

    def peak_memory_bytes(self) -> int | None:
        if self.device.type == "cuda":
            return int(self._native.cuda.max_memory_allocated(self.device))
        return None

    def sum0_into(self, a: Array, out: Array) -> Array:
        return self._native.sum(a, dim=0, out=out)

    @contextlib.contextmanager
    def serial(self) -> Iterator[None]:
        # torch's intra-op threads (OpenMP) wake for products of ~1e6 multiply-adds and even for exp
        # on 200x10 (12 us on two threads, 4.7 us on one); on 2 cores shared with other work a wake
        # costs up to milliseconds. The setting is process-wide: put back as it was on leaving.
        torch = self._native
        threads = torch.get_num_threads()
        if self.device.type != "cpu" or threads == 1:
            yield
            return
        torch.set_num_threads(1)
        try:
            yield
        finally:
            torch.set_num_threads(threads)

    def gradient_transport(self, comm: Any) -> Any:
        """NCCL (``torch.distributed``) between CUDA devices; MPI on host buffers on the CPU."""
        if self.device.type == "cuda":
            from .nccl import TorchNcclTransport

            return TorchNcclTransport(self, comm)
        return super().gradient_transport(comm)

    def maximum(self, x: Array, value: float, in_place: bool = False) -> Array:
        if in_place and self.writeable:
            return x.clamp_min_(value)
        return self.xp.maximum(x, value)

    def matmul(self, a: Array, b: Array) -> Array:
        # torch.mm: the 2-D product without torch.matmul's dispatch on the operands' ranks
        return self._native.mm(a, b) if a.ndim == 2 == b.ndim else a @ b

    def sub_scaled(self, a: Array, b: Array, scale: Any, scratch: Array | None = None) -> Array:
        # a - scale * b in one in-place operation (b is left as it was; no scratch space needed)
        if self.writeable and a.shape == b.shape:
            return a.addcmul_(b, scale, value=-1)
        return super().sub_scaled(a, b, scale, scratch)

    def row_taker(self, host: np.ndarray) -> Callable[[np.ndarray], Array]:
        """On the CPU torch's own ``index_select`` gathers straight from the host memory, shared
        (a read-only memmap too: it is only read), on torch's threads; elsewhere the generic form."""
        if self.device.type != "cpu" or host.dtype.kind not in "fiub":
            return super().row_taker(host)
        torch = self._native
        with warnings.catch_warnings():  # torch warns that read-only memory is shared: only read here
            warnings.simplefilter("ignore", UserWarning)
            shared = torch.from_numpy(np.asarray(host))
        return lambda rows: torch.index_select(shared, 0, torch.from_numpy(np.asarray(rows, np.int64)))

    def stage(self, *hosts: np.ndarray | None) -> tuple:
        """On CUDA each host array is copied into a reused page-locked (pinned) buffer and from
        there to the device on a side stream, the host not waiting (``non_blocking``); the compute
        stream waits for the copy through an event, and this (reading) thread polls the event
        before returning, so the buffers are free again and nothing syncs the device (a sync
        would trip ``NoHostSync``'s debug mode, which is process-wide). Elsewhere the generic form."""
        if self.device.type != "cuda":
            return super().stage(*hosts)
        import threading
        import time

        torch = self._native
        with self.__dict__.setdefault("_stage_lock", threading.Lock()):  # one chunk at a time: shared buffers
            if "_stage_stream" not in self.__dict__:
                self.__dict__["_stage_stream"] = torch.cuda.Stream(self.device)
            side = self.__dict__["_stage_stream"]
            compute = torch.cuda.default_stream(self.device)
            with torch.cuda.stream(side):
                arrays = [
                    None if h is None else self._pinned(i, h).to(self.device, non_blocking=True)
                    for i, h in enumerate(hosts)
                ]
            done = torch.cuda.Event()
            done.record(side)
            compute.wait_event(done)
            for array in arrays:
                if array is not None:
                    array.record_stream(compute)  # the allocator keeps its memory until compute is done
            while not done.query():
                time.sleep(1e-4)
        return tuple(arrays)

    def _pinned(self, slot: int, host: np.ndarray) -> Any:
        """``host``'s values in the pinned buffer of ``slot`` (grown as needed), as a tensor."""
        torch, buffers = self._native, self.__dict__.setdefault("_stage_buffers", {})
        if slot not in buffers or buffers[slot].numel() < host.nbytes:
            buffers[slot] = torch.empty(max(host.nbytes, 1), dtype=torch.uint8).pin_memory()
        view = buffers[slot].numpy()[: host.nbytes].view(host.dtype).reshape(host.shape)
        np.copyto(view, host)
        return torch.from_numpy(view)


@contextlib.contextmanager
def _torch_sync_debug_mode(torch: Any, mode: str) -> Iterator[None]:
    previous = torch.cuda.get_sync_debug_mode()
    torch.cuda.set_sync_debug_mode(mode)
    try:
        yield
    finally:
        torch.cuda.set_sync_debug_mode(previous)


def _torch_namespace(torch: Any) -> Any:
    """array-api-compat's torch namespace with its slowest wrappers replaced for the cases portnn
    calls: ``maximum``/``minimum`` against a Python number (13 us in the wrapper, 1.6 us as
    ``clamp_min``) or a tensor of the same dtype, and real ``vecdot`` (32 us, 1.4 us as
    ``torch.linalg.vecdot``). Anything else falls through to the wrapper; tests/test_xp.py
    compares both."""
    compat = _import("array_api_compat.torch")
    fast = types.ModuleType("portnn_torch_namespace", doc=compat.__doc__)
    fast.__dict__.update({k: v for k, v in vars(compat).items() if not k.startswith("__")})
    fast.__array_namespace_info__ = compat.__array_namespace_info__  # type: ignore[attr-defined]

    def elementwise_bound(name: str, clamp: Any) -> Any:
        """``maximum`` (clamp ``clamp_min``) or ``minimum`` (``clamp_max``) without the wrapper."""
        exact, wrapped = getattr(torch, name), getattr(compat, name)

        def bound(x1: Any, x2: Any) -> Any:
            if isinstance(x2, (int, float)) and isinstance(x1, torch.Tensor) and x1.is_floating_point():
                return clamp(x1, x2)
            if isinstance(x1, torch.Tensor) and isinstance(x2, torch.Tensor) and x1.dtype == x2.dtype:
                return exact(x1, x2)  # nothing to promote: the wrapper would only add time
            return wrapped(x1, x2)

        return bound

    maximum = elementwise_bound("maximum", torch.clamp_min)
    minimum = elementwise_bound("minimum", torch.clamp_max)

    def vecdot(x1: Any, x2: Any, /, *, axis: int = -1) -> Any:
        if x1.dtype == x2.dtype and x1.is_floating_point():
            return torch.linalg.vecdot(x1, x2, dim=axis)
        return compat.vecdot(x1, x2, axis=axis)

    fast.__dict__.update(maximum=maximum, minimum=minimum, vecdot=vecdot)
    # MSE's sum of squares as sum(x * x), without array-api-compat's Python reshape around vecdot
    register_vdot(fast, lambda a, b: torch.sum(a * b))
    return fast
