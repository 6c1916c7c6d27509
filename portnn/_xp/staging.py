"""How host rows reach a backend: what :class:`~portnn._xp.base.Backend` (which subclasses
:class:`HostToDevice`) does for data that is streamed from host memory or disk a chunk at a time."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from .arrays import Array, _host_dtype


class HostToDevice:
    """The host-to-device part of :class:`~portnn._xp.base.Backend`."""

    def host_dtype(self, dtype: Any) -> np.dtype:
        """The NumPy dtype of this backend's ``dtype``: what a host array of its values holds.

        >>> from portnn._xp import get_backend
        >>> get_backend("numpy").host_dtype(np.float32)
        dtype('float32')
        """
        return _host_dtype(dtype)

    def stage(self: Any, *hosts: np.ndarray | None) -> tuple:
        """(a reading thread) Host arrays put on the device ahead of the steps that take them,
        in their own dtypes (None stays None), and waited for here so that the steps do not.
        Here a plain :meth:`asarray`; a CUDA library copies from pinned memory on a side stream.

        >>> from portnn._xp import get_backend
        >>> get_backend("numpy").stage(np.ones(2), None)
        (array([1., 1.]), None)
        """
        arrays = tuple(None if host is None else self.asarray(host) for host in hosts)
        self.synchronize(*(a for a in arrays if a is not None))
        return arrays

    def row_taker(self: Any, host: np.ndarray) -> Callable[[np.ndarray], Array]:
        """A function ``rows -> those rows of host`` (any order) as one array of this backend, in
        ``host``'s dtype, for a host NumPy array (a memmap, say) read many times. Here NumPy's
        gather then :meth:`asarray`; torch on the CPU gathers with its own (multithreaded)
        ``index_select`` straight from the host memory.

        >>> from portnn._xp import get_backend
        >>> take = get_backend("numpy").row_taker(np.arange(6.0).reshape(3, 2))
        >>> take(np.array([2, 0])).tolist()
        [[4.0, 5.0], [0.0, 1.0]]
        """
        base = np.asarray(host)
        return lambda rows: self.asarray(np.take(base, rows, axis=0))
