"""What each array library is, known by its backend class and registered once.

Each library's :class:`~portnn._xp.base.Backend` subclass is registered here once, by
:func:`register` (``resolve`` registers portnn's five, NumPy first: the order arrays are asked in).
Its class methods answer for arrays of that library without a backend
instance (and without importing the library where the question does not need it): whether an
array is its own, the array on the host, the spec's device part for the array's device, whether a
spec's device is a GPU, and the spec for one rank per GPU. The functions below ask the registered
classes; nothing else in portnn tests a library name or a spec string.
"""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np

_REGISTRY: dict[str, type[ArrayLibrary]] = {}


class ArrayLibrary:
    """The class-level knowledge of one array library; :class:`~portnn._xp.base.Backend` inherits it.

    Attributes
    ----------
    library : str
        The library's name: the part of a spec before the colon.
    arrays_are_numpy : bool
        Its arrays are NumPy's own ``ndarray`` on the host (NumPy only): outputs stay NumPy.
    """

    library: ClassVar[str] = ""
    arrays_are_numpy: ClassVar[bool] = False

    @classmethod
    def for_device(cls, device_name: str) -> Any:
        """A new backend of this library on the device the spec's part after the colon names
        ("" for the library's default device); an error where it cannot be used here."""
        raise NotImplementedError(f"{cls.__name__} names no library")

    @classmethod
    def device_specs(cls) -> list[str]:
        """The canonical specs of this library's devices usable here, the host's first; empty
        where the library is not installed or sees no device."""
        return []

    @classmethod
    def pin_full_precision(cls) -> None:
        """Turn reduced-precision (TF32) matmuls off in this library where it is installed."""

    @property
    def torch_device(self) -> Any:
        """The torch device where this backend's arrays are torch tensors, for references written
        in torch itself (the benchmark's torch eager loop); None elsewhere."""
        return None

    def same_library(self, other: ArrayLibrary) -> bool:
        """True when ``other`` (a backend) computes with this one's library, on any device.

        >>> from portnn import get_backend
        >>> get_backend("array_api_strict").same_library(get_backend("array_api_strict:device1"))
        True
        """
        return self.library == other.library

    @classmethod
    def is_own_array(cls, x: Any) -> bool:
        """True when ``x`` is an array of this library (array-api-compat's ``is_*_array``)."""
        return False

    @classmethod
    def to_host(cls, x: Any, copy: bool = True) -> np.ndarray:
        """``x``, an array of this library, as a NumPy array on the host (a copy unless ``copy``
        is False and the library can share its memory)."""
        return np.array(x, copy=True) if copy else np.asarray(x)

    @classmethod
    def device_name_of(cls, x: Any) -> str:
        """The part after the colon of the spec of ``x``'s device ("" for the default device)."""
        return ""

    @classmethod
    def names_gpu(cls, device_name: str) -> bool:
        """True when the spec ``library:device_name`` names a GPU (read from the spec alone)."""
        return False

    @classmethod
    def spec_for_rank(cls, device_name: str, local_rank: int) -> str:
        """The spec of this library on GPU number ``local_rank`` where ``device_name`` is a GPU;
        the spec unchanged on the host."""
        return cls.library + (f":{device_name}" if device_name else "")


def register(*classes: type[ArrayLibrary]) -> None:
    """Register each library's backend class under its ``library`` name, in this order."""
    for cls in classes:
        if not cls.library:
            raise ValueError(f"register: {cls.__name__} names no library")
        _REGISTRY[cls.library] = cls


def library_names() -> tuple[str, ...]:
    """The libraries registered, in the order they were registered.

    >>> library_names()[0]
    'numpy'
    """
    return tuple(_REGISTRY)


def library_class(spec: str) -> type[ArrayLibrary] | None:
    """The registered class of the library a spec names (the part before the colon), or None.

    >>> library_class("torch:cuda").names_gpu("cuda"), library_class("tensorflow")
    (True, None)
    """
    return _REGISTRY.get(spec.partition(":")[0])


def class_of_array(x: Any) -> type[ArrayLibrary] | None:
    """The registered class whose library ``x`` is an array of, or None (lists, scalars, ...).

    >>> import numpy as np
    >>> class_of_array(np.zeros(2)).arrays_are_numpy, class_of_array([0.0])
    (True, None)
    """
    for cls in _REGISTRY.values():
        if cls.is_own_array(x):
            return cls
    return None
