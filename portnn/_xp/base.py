"""The generic :class:`Backend`: what every Array API namespace can do, written once.

Each library's subclass (``numpy_backend``, ``strict``, ``torch_backend``, ``jax_backend``,
``cupy_backend``) overrides only where that library differs or has a faster way; the method here
is the fallback, and the one that ``variant(fast_paths=False)`` uses for :data:`FAST_PATHS`.
"""

from __future__ import annotations

import contextlib
import math
from collections.abc import Callable
from typing import Any, ClassVar, cast

import numpy as np

from .arrays import Array, _host_dtype, to_numpy
from .hostreads import HostReads
from .registry import ArrayLibrary
from .staging import HostToDevice
from .updates import InPlaceUpdates

_FLOAT_DTYPES = ("float32", "float64")

#: The methods a library may replace by a fast path; ``variant(fast_paths=False)`` takes these
#: generic versions instead, so that the tests can compare the two.
FAST_PATHS = (
    "sigmoid_kernels",
    "scipy_special",
    "matmul",
    "matmul_into",
    "sum0_into",
    "maximum",
    "zero_where_not",
    "relu_grad",
    "add_bias",
    "sub_scaled",
    "mul_into",
    "compile",
    "serial",
    "row_taker",
)


class Backend(InPlaceUpdates, HostReads, HostToDevice, ArrayLibrary):
    """An array namespace bound to one device, with what it can do.

    Code outside this package asks these capabilities, never the library's name or the spec's text.

    Attributes
    ----------
    spec : str
        Canonical spec, e.g. ``"torch:cpu"``: to name the backend (messages, files), not to test.
    library : str
        The library's name (``"torch"``), for messages: compare backends with :meth:`same_library`.
    arrays_are_numpy : bool
        Its arrays are NumPy ``ndarray``s on the host: outputs stay NumPy (NumPy only).
    on_gpu : bool
        Its arrays live on a GPU (CuPy, torch on CUDA, JAX on a GPU).
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
    fast_paths : bool
        The library's fast paths are on (off in ``variant(fast_paths=False)``).
    torch_device : object or None
        The torch device where the arrays are torch tensors (references written in torch).

    What the library is, without an instance (whether an array is its own, the array on the host,
    the devices it names here, what a spec says) is in :class:`~portnn._xp.registry.ArrayLibrary`.

    >>> import portnn as pn
    >>> bk = pn.get_backend("numpy")
    >>> bk.arrays_are_numpy, bk.on_gpu, bk.writeable, bk.float64, bk.compiles
    (True, False, True, True, False)
    """

    compiles: ClassVar[bool] = False
    #: The library's own sigmoid and its gradient, ``(forward(x), backward(dY, Y))``, one operation
    #: each where the standard needs four and three; None where it has none (portnn's tanh form).
    sigmoid_kernels: ClassVar[tuple[Callable[..., Array], Callable[..., Array]] | None] = None
    #: ``scipy.special`` where its functions take this library's arrays (NumPy), or the library's
    #: own module of that name (``torch.special``: one operation each where the standard's forms take
    #: 3 and 8), for the functions scikit-learn computes with it (``expit``, ``xlogy``); None
    #: elsewhere. See ``special``.
    scipy_special: ClassVar[Any] = None
    fast_paths: ClassVar[bool] = True
    _float64_hint: ClassVar[str] = ""
    #: Turns a spec into its cached backend when one is unpickled or deep-copied: ``get_backend``,
    #: set by the module that resolves specs (it imports this one, so this one cannot import it).
    resolver: ClassVar[Callable[[str], Backend]]

    def __init__(self, spec: str, xp: Any, device: Any, native: Any, *, writeable: bool = True) -> None:
        self.spec, self.xp, self.device = spec, xp, device
        self._native = native
        self.writeable = writeable
        self.float64 = self._supports_float64()
        self._sync_forbidden = 0

    def __repr__(self) -> str:
        return f"Backend({self.spec!r})"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Backend) and other.spec == self.spec

    def __hash__(self) -> int:
        return hash(self.spec)

    def __reduce__(self) -> tuple[Any, tuple[str]]:
        # A backend is its spec: unpickling (or deep-copying) gives the cached backend, and a clear
        # ValueError where the spec cannot be used. A variant comes back as the backend itself.
        return (Backend.resolver, (self.spec,))

    # -- dtypes -------------------------------------------------------------------------------
    def _supports_float64(self) -> bool:
        # the standard's inspection API answers per device: array_api_strict's no_float64, JAX without x64
        kinds = self.xp.__array_namespace_info__().dtypes(device=self.device, kind="real floating")
        return "float64" in kinds

    def dtype(self, name: str) -> Any:
        """The namespace's floating dtype called ``name``; clear error where the device lacks it."""
        if name not in _FLOAT_DTYPES:
            raise ValueError(f"dtype: expected one of {_FLOAT_DTYPES}, got {name!r}")
        if name == "float64" and not self.float64:
            raise ValueError(f"dtype: backend {self.spec!r} does not support float64{self._float64_hint}; use float32")
        return getattr(self.xp, name)

    # -- moving arrays ------------------------------------------------------------------------
    def owns(self, x: Array) -> bool:
        """True when ``x`` is already an array of this backend on this device."""
        return type(self).is_own_array(x) and self._on_device(x)

    def _on_device(self, x: Array) -> bool:
        return x.device == self.device  # type: ignore[no-any-return]

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

    def constant(self, value: float, dtype: Any) -> Any:
        """A scalar constant of ``dtype`` for this backend's arrays to be combined with: a 0-D
        array here (NumPy computes ``one - Y`` faster than ``1.0 - Y``); a host scalar on JAX,
        where a 0-D device array captured by a compiled step is read back to the host to be
        embedded in the program."""
        return self.asarray(value, dtype)

    def _from_host(self, host: np.ndarray) -> Array:
        return self.xp.asarray(host, device=self.device)

    def reset_peak_memory(self) -> None:
        """Start a new peak-memory measurement on the device (GPU backends only)."""

    def peak_memory_bytes(self) -> int | None:
        """Peak device memory since :meth:`reset_peak_memory` (None on CPU backends).

        For CuPy this is the memory pool's total (what the pool holds), an upper bound.
        """
        return None

    def floating_point_errors_ignored(self) -> Any:
        """A context in which NumPy does not warn or raise on overflow/invalid results.

        The training loop detects non-finite values itself and stops with a clear error; NumPy's
        own warnings (or errors under ``np.errstate(all="raise")``) would pre-empt that and skip the
        restoring of the last finite weights.
        """
        return contextlib.nullcontext()

    def flat_views(self, flat: Array, shapes: list[tuple[int, ...]], align: int = 1) -> list[Array] | None:
        """Parts of the 1-D ``flat`` in order, shaped ``shapes``, each starting at a multiple of
        ``align`` elements, as views sharing its memory (one in-place update of ``flat`` updates
        them all); None where arrays are not writeable or the library would copy."""
        if not self.writeable:
            return None
        views, start = [], 0
        try:
            for shape in shapes:
                size = math.prod(shape)
                views.append(self.xp.reshape(flat[start : start + size], shape, copy=False))
                start += -(-size // align) * align
        except (ValueError, TypeError, NotImplementedError):
            return None
        return views

    # -- fast paths: these are the generic fallbacks ---------------------------------------------
    def matmul(self, a: Array, b: Array) -> Array:
        """``a @ b`` (Dense's products: 2-D arrays)."""
        return a @ b

    def matmul_into(self, a: Array, b: Array, out: Array) -> Array:
        """``a @ b``, computed into ``out`` where the library takes ``out=`` (no allocation); here
        copied into it where writeable, so that a gradient keeps its array (the parameter block's view)."""
        return self.copy_into(out, a @ b)

    def sum0_into(self, a: Array, out: Array) -> Array:
        """``sum(a, axis=0)``, computed into ``out`` where the library takes ``out=`` (as :meth:`matmul_into`)."""
        return self.copy_into(out, self.xp.sum(a, axis=0))

    def ordered_sums(self) -> Backend:
        """This backend, or a twin of it whose :meth:`sum0_into` adds the rows in order as
        ``xp.sum(a, axis=0)`` does where its fast path sums another way (NumPy's ``ones @ a``): for
        ports that must reproduce another library's numbers to the bit (scikit-learn's
        ``np.mean(delta, 0)``). The sums are equal up to rounding either way."""
        return self

    def maximum(self, x: Array, value: float, in_place: bool = False) -> Array:
        """``maximum(x, value)``; written into ``x`` when ``in_place`` (the caller owns ``x``) and the
        library can (NumPy, CuPy, torch): no new activation-sized array per layer and step."""
        return self.xp.maximum(x, value)

    def zero_where_not(self, mask: Array, x: Array) -> Array:
        """``where(mask, x, 0)``. NumPy, CuPy and torch multiply by the boolean mask instead
        (a quarter of ``where``'s time in NumPy), into ``x`` when writeable: callers hand over
        the gradient they pass in."""
        return self.xp.where(mask, x, 0.0)

    def add_bias(self, y: Array, bias: Array) -> Array:
        """``y + bias`` (a row of biases added to every row of ``y``), into ``y`` when writeable:
        callers hand over a fresh product. CuPy adds whole vectors per thread."""
        return self.iadd(y, bias)

    def relu_grad(self, y: Array, dy: Array) -> Array:
        """ReLU's backward pass: ``dy`` where ``y > 0``, else 0, into ``dy`` when writeable. CuPy
        does it in one pass instead of a comparison and a product."""
        return self.zero_where_not(y > 0.0, dy)

    def compile(self, fn: Any) -> Any:
        """``fn`` traced on its first call (and again for new input shapes) and run compiled,
        where the library compiles: JAX (``jax.jit``), whose op-by-op dispatch otherwise costs
        tens of microseconds per operation. ``None`` elsewhere: NumPy, CuPy and torch run op by op."""
        return None

    def compiled_scalar(self, value: float) -> Any:
        """``value`` as an input of a function :meth:`compile` made (the learning rate): here the
        number itself; JAX: a weakly typed scalar on the device, made once and passed as it is (a
        Python number is put on the device at every call).

        >>> import portnn as pn
        >>> pn.get_backend("numpy").compiled_scalar(0.5)
        0.5
        """
        return value

    def serial(self) -> contextlib.AbstractContextManager[None]:
        """A context in which the library computes on one thread (the same numbers): for a loop of
        small operations, such as a small network's training steps on the CPU, where waking its
        other threads for each operation costs more than they gain. Here it changes nothing (NumPy's
        BLAS keeps its own threads); torch on the CPU runs its operations on one thread.

        >>> import portnn as pn
        >>> with pn.get_backend("numpy").serial():
        ...     pass
        """
        return contextlib.nullcontext()

    def gradient_transport(self, comm: Any) -> Any:
        """What sums a data-parallel step's flat gradient buffer over the ranks of ``comm``: MPI
        on host buffers here; NCCL where a GPU library overrides this (see ``transports``)."""
        from .transports import HostTransport  # (it imports this module's package)

        return HostTransport(self, comm)

    def variant(self, *, writeable: bool | None = None, fast_paths: bool = True) -> Backend:
        """A twin of this backend that rebinds instead of updating in place (``writeable=False``)
        and/or uses only the generic paths; the tests compare both against the original."""
        cls = type(self) if fast_paths else _generic_twin(type(self))
        keep = self.writeable if writeable is None else writeable
        return cls(self.spec, self.xp, self.device, self._native, writeable=keep)


_GENERIC_TWINS: dict[type[Backend], type[Backend]] = {}


def _generic_twin(cls: type[Backend]) -> type[Backend]:
    """``cls`` with the generic :class:`Backend` methods for :data:`FAST_PATHS`, not compiling."""
    if not cls.fast_paths:
        return cls
    if cls not in _GENERIC_TWINS:
        generic = {name: getattr(Backend, name) for name in FAST_PATHS}  # (some from InPlaceUpdates)
        namespace = {**generic, "compiles": False, "fast_paths": False, "__module__": __name__, "__doc__": cls.__doc__}
        _GENERIC_TWINS[cls] = cast(type[Backend], type(f"Generic{cls.__name__}", (cls,), namespace))
    return _GENERIC_TWINS[cls]
