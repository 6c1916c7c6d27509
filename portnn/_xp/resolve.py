"""Specs to backends: :func:`get_backend` (cached), :func:`available_backends` (probing each
library's devices) and :func:`backend_of` (the backend an array lives on)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from .arrays import library_of
from .base import Backend
from .cupy_backend import CupyBackend
from .jax_backend import JaxBackend
from .libraries import _LIBRARIES
from .numpy_backend import NumpyBackend
from .strict import StrictBackend
from .torch_backend import TorchBackend

# The specs probed by available_backends(), in the order they are listed.
_PROBED_SPECS = ("numpy", "array_api_strict", "torch:cpu", "jax:cpu", "cupy:0", "torch:cuda", "jax:gpu")

# Each library's resolver: the part of a spec after the colon ("" for none) to a new backend.
_RESOLVERS: dict[str, Callable[[str], Backend]] = {
    "numpy": NumpyBackend.for_device,
    "array_api_strict": StrictBackend.for_device,
    "torch": TorchBackend.for_device,
    "jax": JaxBackend.for_device,
    "cupy": CupyBackend.for_device,
}

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


Backend.resolver = get_backend  # how backends unpickle: see Backend.__reduce__


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


def backend_of(x: Any) -> Backend:
    """The :class:`Backend` an array lives on."""
    library = library_of(x)
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


def spec_for_rank(spec: str, local_rank: int) -> str:
    """The spec of ``spec``'s library on GPU number ``local_rank``, for one rank per GPU (a
    data-parallel job); a host backend's spec unchanged.

    >>> spec_for_rank("torch:cuda", 1), spec_for_rank("cupy:0", 2), spec_for_rank("numpy", 3)
    ('torch:cuda:1', 'cupy:2', 'numpy')
    """
    library, _, device = spec.partition(":")
    if library == "cupy":
        return f"cupy:{local_rank}"
    if library == "torch" and device.startswith("cuda"):
        return f"torch:cuda:{local_rank}"
    if library == "jax" and device.startswith(("gpu", "cuda")):
        return f"jax:gpu:{local_rank}"
    return spec
