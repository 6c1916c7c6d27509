"""Specs to backends: :func:`get_backend` (cached), :func:`available_backends` (probing each
library's devices), :func:`backend_of` (the backend an array lives on) and what a spec says
(:func:`spec_on_gpu`, :func:`spec_for_rank`), each asked of the library's registered class."""

from __future__ import annotations

from .arrays import Array
from .base import Backend
from .cupy_backend import CupyBackend
from .jax_backend import JaxBackend
from .numpy_backend import NumpyBackend
from .registry import class_of_array, library_class, library_names, register
from .strict import StrictBackend
from .torch_backend import TorchBackend

#: Each library's backend class, registered once; arrays are asked in this order (NumPy's first).
BACKEND_CLASSES = (NumpyBackend, StrictBackend, TorchBackend, JaxBackend, CupyBackend)
register(*BACKEND_CLASSES)

# The specs probed by available_backends(), in the order they are listed: the host ones first.
_PROBED_SPECS = ("numpy", "array_api_strict", "torch:cpu", "jax:cpu", "cupy:0", "torch:cuda", "jax:gpu")

_CACHE: dict[str, Backend] = {}


def _resolve(spec: str) -> Backend:
    """A new backend for ``spec`` from its library's class (ValueError for an unknown library)."""
    cls = library_class(spec)
    if cls is None:
        raise ValueError(f"unknown library {spec.partition(':')[0]!r}")
    backend: Backend = cls.for_device(spec.partition(":")[2])
    return backend


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
    if library_class(spec) is None:
        raise ValueError(
            f"backend: unknown spec {spec!r}; libraries are {list(library_names())}, available here: {available_backends()}"
        )
    try:
        backend = _resolve(spec)
    except (ImportError, RuntimeError, ValueError, IndexError, AttributeError) as exc:
        raise ValueError(f"backend: {spec!r} cannot be used here ({exc}); available: {available_backends()}") from exc
    _CACHE[spec] = backend
    return backend


Backend.resolver = get_backend  # how backends unpickle: see Backend.__reduce__


def available_backends() -> list[str]:
    """The backend specs usable on this machine, e.g. ``["numpy", "array_api_strict", "torch:cpu"]``.

    CuPy, torch CUDA and JAX GPU count only where a device answers.

    >>> "numpy" in available_backends()
    True
    """
    found = []
    for spec in _PROBED_SPECS:
        try:
            _resolve(spec)
        except Exception:  # any failure to import or reach a device means "not available"
            continue
        found.append(spec)
    return found


def backend_of(x: Array) -> Backend:
    """The :class:`Backend` an array lives on.

    >>> import numpy as np
    >>> backend_of(np.zeros(2)).spec
    'numpy'
    """
    cls = class_of_array(x)
    if cls is None:
        raise TypeError(f"expected an array, got {type(x).__name__}")
    device_name = cls.device_name_of(x)
    return get_backend(f"{cls.library}:{device_name}" if device_name else cls.library)


def known_spec(spec: str) -> bool:
    """True when the spec names a library portnn knows, whether or not it can be used here.

    >>> known_spec("cupy:3"), known_spec("tensorflow:gpu")
    (True, False)
    """
    return library_class(spec) is not None


def spec_on_gpu(spec: str) -> bool:
    """True when the spec names a GPU, read from the spec alone (the library need not be
    installed: a benchmark record from another machine); False for an unknown library.

    >>> spec_on_gpu("torch:cuda:1"), spec_on_gpu("cupy:0"), spec_on_gpu("jax:cpu"), spec_on_gpu("numpy")
    (True, True, False, False)
    """
    cls = library_class(spec)
    return cls is not None and cls.names_gpu(spec.partition(":")[2])


def spec_arrays_are_numpy(spec: str) -> bool:
    """True when the spec's arrays are NumPy's own (the host baseline), read from the spec alone.

    >>> spec_arrays_are_numpy("numpy"), spec_arrays_are_numpy("array_api_strict")
    (True, False)
    """
    cls = library_class(spec)
    return cls is not None and cls.arrays_are_numpy


def spec_with_device(spec: str, device: str) -> str:
    """The spec of ``spec``'s library on ``device`` (a device as that library's specs name it).

    >>> spec_with_device("torch:cpu", "cuda:1"), spec_with_device("jax", "cpu")
    ('torch:cuda:1', 'jax:cpu')
    """
    return f"{spec.partition(':')[0]}:{device}"


def spec_selected(spec: str, names: set[str]) -> bool:
    """True when ``names`` (specs or library names, as a user lists them: ``PORTNN_BACKENDS``)
    holds ``spec`` itself or its library, which stands for all its specs.

    >>> spec_selected("torch:cuda", {"numpy", "torch"}), spec_selected("torch:cuda", {"torch:cpu"})
    (True, False)
    """
    return spec in names or spec.partition(":")[0] in names


def spec_for_rank(spec: str, local_rank: int) -> str:
    """The spec of ``spec``'s library on GPU number ``local_rank``, for one rank per GPU (a
    data-parallel job); a host backend's spec unchanged.

    >>> spec_for_rank("torch:cuda", 1), spec_for_rank("cupy:0", 2), spec_for_rank("numpy", 3)
    ('torch:cuda:1', 'cupy:2', 'numpy')
    """
    cls = library_class(spec)
    return spec if cls is None else cls.spec_for_rank(spec.partition(":")[2], local_rank)
