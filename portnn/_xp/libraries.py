"""The array libraries by name: importing them, their versions, pinning full matmul precision."""

from __future__ import annotations

import importlib
from typing import Any

from .registry import library_class, library_names

_LIBRARIES = ("numpy", "array_api_strict", "torch", "jax", "cupy")


def _import(name: str) -> Any:
    return importlib.import_module(name)


def installed(name: str) -> Any:
    """The module ``name`` where it is installed, else None (a library portnn may use but does not
    need).

    >>> installed("numpy").__name__, installed("no_such_library")
    ('numpy', None)
    """
    try:
        return _import(name)
    except ImportError:
        return None


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


def library_versions() -> dict[str, str]:
    """Versions of the array libraries portnn can use ("not installed" where missing)."""
    versions = {}
    for name in ("numpy", "array_api_compat", "array_api_strict", "torch", "jax", "cupy"):
        module = installed(name)
        versions[name] = "not installed" if module is None else str(getattr(module, "__version__", "?"))
    return versions


def pin_full_precision() -> None:
    """Turn TF32 and reduced-precision matmuls off in the GPU libraries that are installed (each
    library's backend class knows how: :meth:`~portnn._xp.registry.ArrayLibrary.pin_full_precision`).

    Parity tests compare float32 results across backends; TF32 (on by default for some libraries
    on Ampere and later) rounds matmul inputs to 10 mantissa bits and would break them.
    """
    for name in library_names():
        cls = library_class(name)
        if cls is not None:
            cls.pin_full_precision()
