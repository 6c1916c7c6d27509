"""Backends: the one module that imports array libraries other than NumPy-on-the-host.

A *backend* is an array namespace bound to one device. It is named by a spec string:
``"numpy"``, ``"array_api_strict"``, ``"array_api_strict:device1"``, ``"torch"``, ``"torch:cpu"``,
``"torch:cuda"``, ``"jax"``, ``"jax:cpu"``, ``"jax:gpu"``, ``"cupy"``, ``"cupy:N"``. A bare library
name means that library's default device. Everything numerical outside this module computes
through ``backend.xp``; the few backend-specific fast paths (``matmul_into``, ``sum0_into``,
``maximum(..., in_place=True)``, ``zero_where_not`` and the torch namespace's ``maximum``,
``minimum`` and ``vecdot``) live here, behind a capability, with a generic fallback that the tests
compare them against.
"""

from __future__ import annotations

import contextlib
import importlib
import math
import types
from collections.abc import Iterator
from typing import Any

import numpy as np

Array = Any

_LIBRARIES = ("numpy", "array_api_strict", "torch", "jax", "cupy")
# The specs probed by available_backends(), in the order they are listed.
_PROBED_SPECS = ("numpy", "array_api_strict", "torch:cpu", "jax:cpu", "cupy:0", "torch:cuda", "jax:gpu")
_FLOAT_DTYPES = ("float32", "float64")
# Host arrays up to this size reach a CUDA device through pinned memory without waiting (torch):
# shuffle orders and Dropout masks inside an epoch; larger ones (data sets) take the blocking copy.
_PINNED_COPY_BYTES = 16 * 2**20


def _import(name: str) -> Any:
    return importlib.import_module(name)


def import_library(name: str) -> Any:
    """Import an array library by name (for benchmark references that must run it natively).

    Raises ``ImportError`` with an install hint when it is missing.
    """
    if name not in _LIBRARIES + ("sklearn",):
        raise ValueError(f"import_library: unknown library {name!r}; expected one of {_LIBRARIES}")
    try:
        return _import(name)
    except ImportError as exc:
        raise ImportError(f"{name} is not installed; try `pip install portnn[{name}]`") from exc


class Backend:
    """An array namespace bound to one device, with what it can do.

    Attributes
    ----------
    spec : str
        Canonical spec, e.g. ``"torch:cpu"``.
    library : str
        ``"numpy"``, ``"array_api_strict"``, ``"torch"``, ``"jax"`` or ``"cupy"``.
    xp : module
        The Array API namespace to compute with.
    device : object
        The device arrays are placed on.
    writeable : bool
        Arrays can be updated in place (False for JAX: updates rebind instead).
    float64 : bool
        The device supports float64.
    compiles : bool
        Whole functions can be traced and compiled (JAX): see :meth:`compile`.
    """

    def __init__(self, spec: str, library: str, xp: Any, device: Any, native: Any) -> None:
        self.spec, self.library, self.xp, self.device = spec, library, xp, device
        self._native = native
        self.writeable = library != "jax"
        self.float64 = _supports_float64(library, native, device)
        self._has_out = library in ("numpy", "cupy", "torch")
        self.compiles = library == "jax"
        self._sync_forbidden = 0
        self._fused_sub_scaled: Any = None  # p -= s * g in one kernel, where the library makes one

    def __repr__(self) -> str:
        return f"Backend({self.spec!r})"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Backend) and other.spec == self.spec

    def __hash__(self) -> int:
        return hash(self.spec)

    # -- dtypes -------------------------------------------------------------------------------
    def dtype(self, name: str) -> Any:
        """The namespace's floating dtype called ``name``; clear error where the device lacks it."""
        if name not in _FLOAT_DTYPES:
            raise ValueError(f"dtype: expected one of {_FLOAT_DTYPES}, got {name!r}")
        if name == "float64" and not self.float64:
            hint = " (set JAX_ENABLE_X64=1 before importing jax)" if self.library == "jax" else ""
            raise ValueError(f"dtype: backend {self.spec!r} does not support float64{hint}; use float32")
        return getattr(self.xp, name)

    # -- moving arrays ------------------------------------------------------------------------
    def owns(self, x: Array) -> bool:
        """True when ``x`` is already an array of this backend on this device."""
        return _library_of(x) == self.library and _same_device(self.library, x, self.device)

    def asarray(self, x: Any, dtype: Any = None) -> Array:
        """``x`` (any backend, NumPy, nested lists) as an array of this backend and device."""
        if self.owns(x):
            arr = x
        else:
            host = to_numpy(x, copy=False)
            if dtype is not None and host.dtype.kind == "f":
                host = host.astype(_host_dtype(dtype), copy=False)  # cast before it reaches the device
            arr = self._from_host(host)
        if dtype is not None and arr.dtype != dtype:
            arr = self.xp.astype(arr, dtype)
        return arr

    def _from_host(self, host: np.ndarray) -> Array:
        if self.library == "numpy":
            return host
        if self.library == "cupy":
            with self.device:
                return self._native.asarray(host)
        if self.library == "torch" and not host.flags.writeable:
            host = host.copy()  # torch warns on read-only memory (it would share it)
        if self.library == "torch" and self.device.type == "cuda" and host.nbytes <= _PINNED_COPY_BYTES:
            # A copy from pageable memory makes the host wait for the device; from pinned memory it
            # is queued like a kernel (torch's host allocator keeps the buffer until it is done).
            with contextlib.suppress(TypeError):  # a dtype torch lacks takes the generic path
                pinned = self._native.from_numpy(np.ascontiguousarray(host)).pin_memory()
                return pinned.to(self.device, non_blocking=True)
        return self.xp.asarray(host, device=self.device)

    def synchronize(self, *arrays: Array) -> None:
        """Wait until the device has finished the work that produces ``arrays`` (for timing)."""
        if self.library == "cupy":
            self.device.synchronize()
        elif self.library == "torch" and self.device.type == "cuda":
            self._native.cuda.synchronize(self.device)
        elif self.library == "jax" and arrays:
            self._native.block_until_ready(arrays)

    @property
    def syncs_with_host(self) -> bool:
        """True where arrays live on an accelerator that the host can be made to wait for."""
        if self.library == "torch":
            return self.device.type == "cuda"
        if self.library == "jax":
            return self.device.platform != "cpu"
        return self.library == "cupy"

    @contextlib.contextmanager
    def host_sync_forbidden(self) -> Iterator[None]:
        """A context in which any host read of device data raises ``RuntimeError``, except the
        deliberate ones made through :meth:`read` (the loss once per epoch). It proves that a
        training loop keeps the device busy: CuPy's ``cupyx.allow_synchronize(False)``, torch's
        sync debug mode ``"error"``, JAX's device-to-host transfer guard. On host backends there is
        nothing to wait for and it changes nothing.

        >>> bk = get_backend("numpy")
        >>> with bk.host_sync_forbidden():
        ...     bk.read(np.float64(2.5))
        2.5
        """
        if not self.syncs_with_host:
            yield
            return
        self._sync_forbidden += 1
        try:
            with self._sync_mode(allowed=False):
                yield
        finally:
            self._sync_forbidden -= 1

    def read(self, x: Array, as_type: Any = float) -> Any:
        """``as_type(x)`` for a 0-D array: a deliberate host read, allowed inside
        :meth:`host_sync_forbidden`."""
        if not self._sync_forbidden:
            return as_type(x)
        with self._sync_mode(allowed=True):
            return as_type(x)

    def _sync_mode(self, allowed: bool) -> Any:
        if self.library == "cupy":
            cupyx = _import("cupyx")
            if not hasattr(cupyx, "allow_synchronize"):
                raise NotImplementedError(f"CuPy {self._native.__version__} has no cupyx.allow_synchronize")
            return cupyx.allow_synchronize(allowed)
        if self.library == "torch":
            return _torch_sync_debug_mode(self._native, "default" if allowed else "error")
        return self._native.transfer_guard_device_to_host("allow" if allowed else "disallow")

    def reset_peak_memory(self) -> None:
        """Start a new peak-memory measurement on the device (GPU backends only)."""
        if self.library == "torch" and self.device.type == "cuda":
            self._native.cuda.reset_peak_memory_stats(self.device)
        elif self.library == "cupy":
            self._native.get_default_memory_pool().free_all_blocks()

    def peak_memory_bytes(self) -> int | None:
        """Peak device memory since :meth:`reset_peak_memory` (None on CPU backends).

        For CuPy this is the memory pool's total (what the pool holds), an upper bound.
        """
        if self.library == "torch" and self.device.type == "cuda":
            return int(self._native.cuda.max_memory_allocated(self.device))
        if self.library == "cupy":
            return int(self._native.get_default_memory_pool().total_bytes())
        return None

    def floating_point_errors_ignored(self) -> Any:
        """A context in which NumPy does not warn or raise on overflow/invalid results.

        The training loop detects non-finite values itself and stops with a clear error; NumPy's
        own warnings (or errors under ``np.errstate(all="raise")``) would pre-empt that and skip the
        restoring of the last finite weights.
        """
        if self.library in ("numpy", "array_api_strict"):  # array_api_strict computes with NumPy
            return np.errstate(all="ignore")
        return contextlib.nullcontext()

    # -- in-place updates where arrays are writeable, rebinding where not ----------------------
    def iadd(self, a: Array, b: Any) -> Array:
        """``a + b``, written into ``a`` when arrays are writeable. Returns the result."""
        if self.writeable:
            a += b
            return a
        return a + b

    def isub(self, a: Array, b: Any) -> Array:
        """``a - b``, into ``a`` when writeable."""
        if self.writeable:
            a -= b
            return a
        return a - b

    def imul(self, a: Array, b: Any) -> Array:
        """``a * b``, into ``a`` when writeable."""
        if self.writeable:
            a *= b
            return a
        return a * b

    def ipow(self, a: Array, b: float) -> Array:
        """``a ** b``, into ``a`` when writeable."""
        if self.writeable:
            a **= b
            return a
        return a**b

    def sub_scaled(self, a: Array, b: Array, scale: float) -> Array:
        """``a - scale * b``, into ``a`` when writeable, with ``b`` as the scratch space for
        ``scale * b`` (its values are lost): the SGD step in one call, no temporary."""
        if self._fused_sub_scaled is not None and self.writeable:
            self._fused_sub_scaled(b, scale, a)  # one pass over the parameter, b left as it was
            return a
        if self.writeable:
            b *= scale
            a -= b
            return a
        return a - scale * b

    def copy_into(self, dst: Array, src: Array) -> Array:
        """``src``'s values, in ``dst`` when writeable (immutable arrays are simply shared)."""
        if self.writeable:
            dst[...] = src
            return dst
        return src

    # -- fast paths with a generic fallback ----------------------------------------------------
    def matmul_into(self, a: Array, b: Array, out: Array) -> Array:
        """``a @ b``, computed into ``out`` where the library takes ``out=`` (no allocation)."""
        if self._has_out:
            return self._native.matmul(a, b, out=out)
        return a @ b

    def sum0_into(self, a: Array, out: Array) -> Array:
        """``sum(a, axis=0)``, computed into ``out`` where the library takes ``out=``."""
        if self.library in ("numpy", "cupy"):
            return self._native.sum(a, axis=0, out=out)
        if self.library == "torch":
            return self._native.sum(a, dim=0, out=out)
        return self.xp.sum(a, axis=0)

    def maximum(self, x: Array, value: float, in_place: bool = False) -> Array:
        """``maximum(x, value)``; written into ``x`` when ``in_place`` (the caller owns ``x``) and the
        library can (NumPy, CuPy, torch): no new activation-sized array per layer and step."""
        if in_place and self.writeable and self._has_out:
            if self.library == "torch":
                return x.clamp_min_(value)
            return self._native.maximum(x, value, out=x)
        return self.xp.maximum(x, value)

    def zero_where_not(self, mask: Array, x: Array) -> Array:
        """``where(mask, x, 0)``. NumPy, CuPy and torch multiply by the boolean mask instead
        (a quarter of ``where``'s time in NumPy), into ``x`` when writeable: callers hand over
        the gradient they pass in."""
        if self._has_out:
            return self._native.multiply(x, mask, out=x) if self.writeable else x * mask
        return self.xp.where(mask, x, 0.0)

    def compile(self, fn: Any) -> Any:
        """``fn`` traced on its first call (and again for new input shapes) and run compiled,
        where the library compiles: JAX (``jax.jit``), whose op-by-op dispatch otherwise costs
        tens of microseconds per operation. ``None`` elsewhere: NumPy, CuPy and torch run op by op."""
        return self._native.jit(fn) if self.compiles else None

    def variant(self, *, writeable: bool | None = None, fast_paths: bool = True) -> Backend:
        """A twin of this backend that rebinds instead of updating in place (``writeable=False``)
        and/or uses only the generic paths; the tests compare both against the original."""
        other = Backend(self.spec, self.library, self.xp, self.device, self._native)
        other.writeable = self.writeable if writeable is None else writeable
        if not fast_paths:
            other._has_out = False  # also turns off zero_where_not's multiply
            other.compiles = False
            other._fused_sub_scaled = None
            other.sum0_into = lambda a, out: other.xp.sum(a, axis=0)  # type: ignore[method-assign]
        return other


@contextlib.contextmanager
def _torch_sync_debug_mode(torch: Any, mode: str) -> Iterator[None]:
    previous = torch.cuda.get_sync_debug_mode()
    torch.cuda.set_sync_debug_mode(mode)
    try:
        yield
    finally:
        torch.cuda.set_sync_debug_mode(previous)


# ---------------------------------------------------------------------------------------------
# Resolving specs
# ---------------------------------------------------------------------------------------------
_CACHE: dict[str, Backend] = {}


def get_backend(spec: str | Backend) -> Backend:
    """Resolve a spec such as ``"torch:cpu"`` to a :class:`Backend`.

    Raises ``ValueError`` naming the spec and listing the available ones when it cannot be used.

    >>> get_backend("numpy").spec
    'numpy'
    """
    if isinstance(spec, Backend):
        return spec
    if not isinstance(spec, str):
        raise TypeError(f"backend: expected a spec string such as 'numpy', got {type(spec).__name__}")
    if spec in _CACHE:
        return _CACHE[spec]
    library, _, device_name = spec.partition(":")
    if library not in _LIBRARIES:
        raise ValueError(
            f"backend: unknown spec {spec!r}; libraries are {list(_LIBRARIES)}, available here: {available_backends()}"
        )
    try:
        backend = _RESOLVERS[library](device_name)
    except (ImportError, RuntimeError, ValueError, IndexError, AttributeError) as exc:
        raise ValueError(f"backend: {spec!r} cannot be used here ({exc}); available: {available_backends()}") from exc
    _CACHE[spec] = backend
    return backend


def _numpy(device_name: str) -> Backend:
    if device_name not in ("", "cpu"):
        raise ValueError(f"numpy has only the 'cpu' device, not {device_name!r}")
    return Backend("numpy", "numpy", np, "cpu", np)


def _strict(device_name: str) -> Backend:
    xps = _import("array_api_strict")
    names = [str(d).split("'")[1] for d in xps.__array_namespace_info__().devices()]
    name = device_name or "CPU_DEVICE"
    if name not in names:
        raise ValueError(f"array_api_strict has devices {names}, not {name!r}")
    spec = "array_api_strict" if name == "CPU_DEVICE" else f"array_api_strict:{name}"
    return Backend(spec, "array_api_strict", xps, xps.Device(name), xps)


def _torch_namespace(torch: Any) -> Any:
    """array-api-compat's torch namespace with its slowest wrappers replaced for the cases portnn
    calls: ``maximum``/``minimum`` against a Python number (13 us in the wrapper, 1.6 us as
    ``clamp_min``) or a tensor of the same dtype, and real ``vecdot`` (32 us, 1.4 us as
    ``torch.linalg.vecdot``). Anything else falls through to the wrapper; tests/test_xp.py
    compares both."""
    compat = _import("array_api_compat.torch")
    fast = types.ModuleType("portnn_torch_namespace", doc=compat.__doc__)
    fast.__dict__.update({k: v for k, v in vars(compat).items() if not k.startswith("__")})

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
    return fast


def _torch(device_name: str) -> Backend:
    torch = _import("torch")
    xp = _torch_namespace(torch)
    device = torch.device(device_name) if device_name else torch.get_default_device()
    if device.type == "cuda" and not torch.cuda.is_available():
        raise RuntimeError("torch reports no CUDA device")
    if device.type == "cuda" and device.index is None:
        device = torch.device("cuda", torch.cuda.current_device())
    spec = f"torch:{device.type}" if device.index in (None, 0) else f"torch:{device}"
    return Backend(spec, "torch", xp, device, torch)


def _jax(device_name: str) -> Backend:
    jax = _import("jax")
    platform, _, index = device_name.partition(":")
    platform = {"cuda": "gpu"}.get(platform, platform)
    devices = jax.devices(platform) if platform else jax.devices()
    device = devices[int(index or 0)]
    kind = "gpu" if device.platform in ("gpu", "cuda", "rocm") else device.platform
    spec = f"jax:{kind}" if not index or index == "0" else f"jax:{kind}:{index}"
    return Backend(spec, "jax", _import("jax.numpy"), device, jax)


def _cupy(device_name: str) -> Backend:
    cupy = _import("cupy")
    index = int(device_name or 0)
    # `import cupy` succeeds on machines without a GPU; asking the runtime is what fails there.
    count = cupy.cuda.runtime.getDeviceCount()
    if index >= count:
        raise RuntimeError(f"CUDA has {count} device(s), no device {index}")
    xp = _import("array_api_compat.cupy")
    _VDOT[id(xp)] = cupy.vdot
    backend = Backend(f"cupy:{index}", "cupy", xp, cupy.cuda.Device(index), cupy)
    backend._fused_sub_scaled = cupy.ElementwiseKernel("T g, T s", "T p", "p -= s * g", "portnn_sub_scaled")
    return backend


_RESOLVERS = {"numpy": _numpy, "array_api_strict": _strict, "torch": _torch, "jax": _jax, "cupy": _cupy}


def available_backends() -> list[str]:
    """The backend specs usable on this machine, e.g. ``["numpy", "array_api_strict", "torch:cpu"]``.

    CuPy, torch CUDA and JAX GPU count only where a device answers.

    >>> "numpy" in available_backends()
    True
    """
    found = []
    for spec in _PROBED_SPECS:
        library, _, device_name = spec.partition(":")
        try:
            _RESOLVERS[library](device_name)
        except Exception:  # any failure to import or reach a device means "not available"
            continue
        found.append(spec)
    return found


def pin_full_precision() -> None:
    """Turn TF32 and reduced-precision matmuls off in the GPU libraries that are installed.

    Parity tests compare float32 results across backends; TF32 (on by default for some libraries
    on Ampere and later) rounds matmul inputs to 10 mantissa bits and would break them.
    """
    for name, pin in (("torch", _pin_torch), ("jax", _pin_jax)):
        try:
            pin(_import(name))
        except ImportError:
            continue


def _pin_torch(torch: Any) -> None:
    torch.backends.cuda.matmul.allow_tf32 = False
    torch.backends.cudnn.allow_tf32 = False
    torch.set_float32_matmul_precision("highest")


def _pin_jax(jax: Any) -> None:
    jax.config.update("jax_default_matmul_precision", "highest")


def _host_dtype(dtype: Any) -> np.dtype:
    try:
        return np.dtype(dtype)
    except TypeError:
        return np.dtype(str(dtype).rpartition(".")[2])  # torch.float32, array_api_strict.float32


def _supports_float64(library: str, native: Any, device: Any) -> bool:
    if library == "array_api_strict":
        kinds = native.__array_namespace_info__().dtypes(device=device, kind="real floating")
        return "float64" in kinds
    if library == "jax":
        return bool(native.config.read("jax_enable_x64"))
    if library == "torch":
        return device.type != "mps"
    return True


# ---------------------------------------------------------------------------------------------
# Arrays of any library
# ---------------------------------------------------------------------------------------------
def _library_of(x: Any) -> str | None:
    module = type(x).__module__.partition(".")[0]
    if module == "numpy" and isinstance(x, np.ndarray):
        return "numpy"
    if module in ("torch", "cupy", "array_api_strict"):
        return module
    if module in ("jax", "jaxlib"):
        return "jax"
    return None


def _same_device(library: str, x: Any, device: Any) -> bool:
    if library == "numpy":
        return True
    if library == "jax":
        return x.devices() == {device}
    if library == "cupy":
        return x.device.id == device.id
    return x.device == device


def namespace_of(x: Any) -> Any:
    """The Array API namespace of an array (NumPy itself for NumPy arrays)."""
    library = _library_of(x)
    if library == "numpy":
        return np
    if library is None:
        raise TypeError(f"expected an array, got {type(x).__name__}")
    compat = _import("array_api_compat")
    return compat.array_namespace(x)


def backend_of(x: Any) -> Backend:
    """The :class:`Backend` an array lives on."""
    library = _library_of(x)
    if library is None:
        raise TypeError(f"expected an array, got {type(x).__name__}")
    if library == "numpy":
        return get_backend("numpy")
    if library == "array_api_strict":
        return get_backend(f"array_api_strict:{str(x.device).split(chr(39))[1]}")
    if library == "torch":
        return get_backend(f"torch:{x.device}")
    if library == "jax":
        (device,) = x.devices()
        return get_backend(f"jax:{'cpu' if device.platform == 'cpu' else 'gpu'}:{device.id}")
    return get_backend(f"cupy:{x.device.id}")


# Namespaces whose library has a one-call ``vdot`` (registered when their backend is resolved).
_VDOT: dict[int, Any] = {id(np): np.vdot}


def sum_of_squares(xp: Any, x: Array, fast: bool = True) -> Array:
    """``sum(x * x)`` over every element of a real array ``x`` of namespace ``xp``.

    NumPy and CuPy take ``vdot``: one call, 0.5 us for a (4, 1) NumPy array where the generic
    ``reshape`` + ``vecdot`` (``fast=False``) take 2.2 us.

    >>> float(sum_of_squares(np, np.array([[3.0], [4.0]])))
    25.0
    """
    vdot = _VDOT.get(id(xp)) if fast else None
    if vdot is not None:
        return vdot(x, x)
    flat = xp.reshape(x, (math.prod(x.shape),))
    return xp.vecdot(flat, flat)


def to_numpy(x: Any, copy: bool = True) -> np.ndarray:
    """Any array (or nested list, or scalar) as a NumPy array on the host.

    >>> to_numpy([1.0, 2.0])
    array([1., 2.])
    """
    library = _library_of(x)
    if library == "cupy":
        return x.get()
    if library == "torch":
        host = x.detach().cpu().resolve_conj().resolve_neg().numpy()
        return host.copy() if copy else host
    if library == "array_api_strict":
        host = np.from_dlpack(x.to_device(_import("array_api_strict").Device("CPU_DEVICE")))
        return host.copy() if copy else host
    return np.array(x, copy=True) if copy else np.asarray(x)


def library_versions() -> dict[str, str]:
    """Versions of the array libraries portnn can use ("not installed" where missing)."""
    versions = {}
    for name in ("numpy", "array_api_compat", "array_api_strict", "torch", "jax", "cupy"):
        try:
            versions[name] = str(getattr(_import(name), "__version__", "?"))
        except ImportError:
            versions[name] = "not installed"
    return versions
