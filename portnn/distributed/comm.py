"""The communicator of a data-parallel run: this process's rank among the others, and the few
host-side collectives ``fit`` needs, each under the stall watchdog."""

from __future__ import annotations

import os
import socket
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import numpy as np

from .watchdog import Watchdog, print_and_abort

DEFAULT_TIMEOUT = 300.0


class Communicator:
    """This process in a job of ``size`` processes (ranks), over an mpi4py communicator.

    ``rank`` is this process's index in the job, ``local_rank`` its index among the processes of
    its machine (the GPU to use), ``timeout`` how long a rank may wait in one collective before
    the job is aborted with an error naming the operation and the rank. Made by
    :func:`portnn.distributed.init`; ``fit(..., distributed=comm)`` trains with it.

    Run without ``mpiexec`` it is a job of one rank (this example needs mpi4py):

    >>> import portnn as pn
    >>> comm = pn.distributed.init(timeout=60)  # doctest: +SKIP
    >>> comm.rank, comm.size, comm.local_rank  # doctest: +SKIP
    (0, 1, 0)
    >>> comm.allgather(comm.rank)  # doctest: +SKIP
    [0]
    """

    def __init__(self, mpi_comm: Any, timeout: float = DEFAULT_TIMEOUT) -> None:
        self.mpi = mpi_comm
        self.rank, self.size = int(mpi_comm.Get_rank()), int(mpi_comm.Get_size())
        local = mpi_comm.Split_type(_shared_type(), key=self.rank)
        self.local_rank, self.local_size = int(local.Get_rank()), int(local.Get_size())
        local.Free()
        self.watchdog = Watchdog(self.rank, self.size, timeout, print_and_abort(mpi_comm))
        self.transports: dict[str, Any] = {}  # by backend spec: an NCCL communicator is made once

    @property
    def timeout(self) -> float:
        """Seconds a rank may wait in a collective (or between two) before the job is aborted."""
        return self.watchdog.timeout

    def __repr__(self) -> str:
        return f"Communicator(rank={self.rank}, size={self.size}, local_rank={self.local_rank})"

    @contextmanager
    def watch(self, operation: str) -> Iterator[None]:
        """The body (a collective) under the stall watchdog, as ``operation``."""
        with self.watchdog.watch(operation):
            yield

    def broadcast(self, obj: Any, operation: str = "broadcast") -> Any:
        """Rank 0's ``obj`` (any picklable object) on every rank."""
        with self.watch(operation):
            return self.mpi.bcast(obj, root=0)

    def allgather(self, obj: Any, operation: str = "allgather") -> list:
        """Every rank's ``obj``, in rank order, on every rank."""
        with self.watch(operation):
            return list(self.mpi.allgather(obj))

    def allreduce_host(self, buffer: np.ndarray, operation: str = "allreduce") -> np.ndarray:
        """Sum ``buffer`` (a contiguous, writeable host array) over the ranks, in place."""
        with self.watch(operation):
            self.mpi.Allreduce(_mpi_constant("IN_PLACE"), buffer, op=_mpi_constant("SUM"))
        return buffer

    def any(self, flag: bool, operation: str = "the stop_training allreduce") -> bool:
        """Whether ``flag`` is true on any rank."""
        with self.watch(operation):
            return bool(self.mpi.allreduce(bool(flag), op=_lor()))

    def abort(self, message: str, code: int = 1) -> None:
        """Print ``message`` naming this rank, then end every rank of the job."""
        print(f"portnn.distributed: rank {self.rank} of {self.size}: {message}", file=sys.stderr, flush=True)
        time.sleep(0.25)  # for mpiexec to pass the message on before it tears the job down
        self.mpi.Abort(code)

    def describe(self) -> str:
        """Which process and machine each rank is (a killed process is reported by its PID)."""
        where = self.allgather((os.getpid(), socket.gethostname()), "describe")
        return ", ".join(f"rank {r}: pid {pid} on {host}" for r, (pid, host) in enumerate(where))

    def transport_for(self, backend: Any) -> Any:
        """How ``backend``'s gradients are summed over the ranks (made once per backend)."""
        if backend.spec not in self.transports:
            self.transports[backend.spec] = backend.gradient_transport(self)
        return self.transports[backend.spec]

    def parallel_fit(self, *args: Any, **kwargs: Any) -> Any:
        """What ``fit(..., distributed=self)`` trains with (see :mod:`portnn.distributed.parallel`)."""
        from .parallel import ParallelFit  # (it imports the training modules)

        return ParallelFit(self, *args, **kwargs)


def _mpi_constant(name: str) -> Any:
    """``MPI.<name>``; None without mpi4py (a one-process :class:`~portnn.distributed.solo.SoloMPI`)."""
    try:
        from mpi4py import MPI
    except ImportError:
        return None
    return getattr(MPI, name)


def _shared_type() -> Any:
    return _mpi_constant("COMM_TYPE_SHARED")


def _lor() -> Any:
    return _mpi_constant("LOR")
