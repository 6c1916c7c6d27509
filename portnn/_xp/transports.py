"""How a data-parallel step's gradients travel between the ranks: one flat buffer per step,
summed over the ranks.

- :class:`HostTransport`: through MPI from host memory. NumPy, array-api-strict and torch on the
  CPU share the buffer with the host (no copy); JAX (CPU or GPU) stages it through the host.
- ``portnn._xp.nccl``: NCCL between GPUs, for CuPy and torch on CUDA.

A backend picks its transport (:meth:`portnn._xp.Backend.gradient_transport`); ``comm`` is a
:class:`portnn.distributed.Communicator` (``rank``, ``size``, ``watch``, ``broadcast``,
``allreduce_host``).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .arrays import Array, to_numpy


class HostTransport:
    """Sums a flat device array over the ranks with ``MPI_Allreduce`` on a host copy (or view).

    With one rank there is nothing to sum and the array comes back as it went:

    >>> import portnn as pn, numpy as np
    >>> class Alone:
    ...     size = 1
    >>> HostTransport(pn.get_backend("numpy"), Alone()).allreduce(np.ones(3))
    array([1., 1., 1.])
    """

    name = "MPI (host buffers)"

    def __init__(self, backend: Any, comm: Any) -> None:
        self.backend, self.comm = backend, comm

    def allreduce(self, flat: Array) -> Array:
        """``flat`` (1-D, on the backend's device) summed over the ranks."""
        if self.comm.size == 1:
            return flat
        host = to_numpy(flat, copy=False)
        if not (host.flags.writeable and host.flags.c_contiguous):
            host = np.array(host)  # read-only (JAX) or strided: stage a copy
        self.comm.allreduce_host(host, "the gradient allreduce")
        return self.backend.asarray(host)
