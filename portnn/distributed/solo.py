"""A job of one process without MPI: the few calls of an mpi4py communicator that
:class:`portnn.distributed.Communicator` makes, for one rank. It lets code that takes a
communicator — the GPU transports' tests, a script developed on a laptop — run where mpi4py is
not installed. ``pn.distributed.init()`` never falls back to it silently: a script started by
``mpiexec`` without mpi4py would otherwise train as several independent single processes.

>>> from portnn.distributed import Communicator
>>> comm = Communicator(SoloMPI())
>>> comm.rank, comm.size, comm.local_rank, comm.allgather("x"), comm.any(False)
(0, 1, 0, ['x'], False)
"""

from __future__ import annotations

import os
import sys
from typing import Any


class SoloMPI:
    """``COMM_WORLD`` of a one-process job: every collective returns this rank's own data."""

    def Get_rank(self) -> int:
        return 0

    def Get_size(self) -> int:
        return 1

    def Split_type(self, kind: Any, key: int = 0) -> SoloMPI:
        return self

    def Free(self) -> None:
        """Nothing to free."""

    def bcast(self, obj: Any, root: int = 0) -> Any:
        return obj

    def allgather(self, obj: Any) -> list:
        return [obj]

    def allreduce(self, obj: Any, op: Any = None) -> Any:
        return obj

    def Allreduce(self, send: Any, recv: Any, op: Any = None) -> None:
        """The sum over one rank: ``recv`` already holds it (only ``IN_PLACE`` is used)."""

    def Barrier(self) -> None:
        """No one to wait for."""

    def Abort(self, code: int = 1) -> None:
        sys.stderr.flush()
        os._exit(code)
