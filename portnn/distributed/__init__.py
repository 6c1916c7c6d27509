"""Data-parallel training over MPI: one model trained by several processes, GPUs or machines.

Every process (rank) runs the same script; each trains on its share of every global batch, and
the ranks sum their gradients before each update, so the run ends with the parameters a single
process would have reached (up to the order of the sums)::

    # train.py, launched as:  mpiexec -n 4 python -m mpi4py train.py
    import portnn as pn
    comm = pn.distributed.init()
    net = pn.Sequential(pn.Dense(784, 256), pn.ReLU(), pn.Dense(256, 10), seed=0)
    net.fit(X, y, loss="cross_entropy", batch_size=512, epochs=10, distributed=comm)
    if comm.rank == 0:
        net.save("model.safetensors")

``python -m mpi4py`` makes an exception on any rank abort the whole job: plain ``python`` would
leave the other ranks waiting for the one that died. (``init()`` also installs an exception hook
that names the rank and aborts, but only ``-m mpi4py`` covers an exception raised before it.) Needs ``pip install portnn[mpi]`` (mpi4py and MPICH).

- :mod:`portnn.distributed.comm`: :class:`Communicator` (rank, size, local_rank, collectives).
- :mod:`portnn.distributed.watchdog`: the thread that aborts a job stalled in a collective.
- :mod:`portnn.distributed.parallel`: the sharded epoch, reduction and validation ``fit`` runs;
  :mod:`~portnn.distributed.shares` its communication-free pieces; :mod:`~portnn.distributed.compiled`
  JAX's step split into a compiled gradient function, the reduction and a compiled update;
  :mod:`~portnn.distributed.validation` the validation data measured in shares (in memory, streamed,
  or an iterable of batches).
- :mod:`portnn.distributed.solo`: a one-process stand-in for MPI (tests, machines without mpi4py).
- ``portnn._xp.transports``: how each backend's gradients travel (MPI on the host, NCCL on GPUs).
"""

from __future__ import annotations

import sys
from typing import Any

from .comm import DEFAULT_TIMEOUT, Communicator

__all__ = ["Communicator", "init"]


def init(timeout: float = DEFAULT_TIMEOUT) -> Communicator:
    """The communicator of this job's processes (MPI's ``COMM_WORLD``), initializing MPI.

    ``timeout``: seconds a rank may wait in one collective operation before the whole job is
    aborted with an error naming the operation and the rank (a rank stalled or dead). Run
    alone (``python train.py``), it is a job of one rank: ``fit`` then trains as usual.

    Raises ``ImportError`` with what to install when mpi4py is missing.

    >>> import portnn as pn
    >>> comm = pn.distributed.init()  # doctest: +SKIP
    >>> net = pn.Sequential(pn.Dense(2, 1), seed=0)
    >>> X, y = pn.datasets.xor()
    >>> h = net.fit(X, y, batch_size=2, epochs=3, distributed=comm, progress=False)  # doctest: +SKIP
    """
    try:
        from mpi4py import MPI  # (MPI starts only when asked for)
    except ImportError as exc:
        raise ImportError(
            "portnn.distributed needs mpi4py and an MPI library: pip install 'portnn[mpi]' (mpi4py and mpich)"
        ) from exc
    comm = Communicator(MPI.COMM_WORLD, timeout)
    if comm.size > 1 and not getattr(sys.excepthook, "portnn_aborts", False):  # once, however often called
        sys.excepthook = _aborting_hook(comm, sys.excepthook)
    return comm


def _aborting_hook(comm: Communicator, shown: Any) -> Any:
    """An uncaught exception is shown with the rank that raised it, then ends every rank (as
    ``python -m mpi4py`` would; without it, the other ranks would wait for this one forever)."""

    def hook(kind: type[BaseException], exc: BaseException, tb: Any) -> None:
        print(f"portnn.distributed: rank {comm.rank} of {comm.size} raised {kind.__name__}:", file=sys.stderr)
        shown(kind, exc, tb)
        comm.abort(f"aborting the job after {kind.__name__} on rank {comm.rank}")

    hook.portnn_aborts = True  # type: ignore[attr-defined]
    return hook
