"""NCCL between GPUs for a data-parallel step's flat gradient buffer: CuPy through
``cupy.cuda.nccl`` (the unique id shared over MPI), torch on CUDA through ``torch.distributed``'s
NCCL backend (its rendezvous address shared over MPI, always with a timeout).

NCCL queues the sum on the device's stream; the host then waits for it under the stall
watchdog, so a rank that never joins makes the job abort with an error naming the operation
and the rank (torch's own timeout is the second line of defence).
"""

from __future__ import annotations

import atexit
import datetime
import os
import socket
from typing import Any

from .arrays import Array
from .libraries import _import, import_library


class CupyNcclTransport:
    """Sums CuPy arrays over the ranks with ``ncclAllReduce``, one communicator per job."""

    name = "NCCL (cupy.cuda.nccl)"

    def __init__(self, backend: Any, comm: Any) -> None:
        cupy = import_library("cupy")
        self.cupy, self.comm, self.backend = cupy, comm, backend
        nccl = _cupy_nccl()
        uid = comm.broadcast(nccl.get_unique_id() if comm.rank == 0 else None, "the NCCL unique id broadcast")
        # NCCL's setup waits for every rank, with no timeout of its own: the watchdog's then
        with backend.device, comm.watch("the NCCL communicator setup (CuPy)"):
            self.nccl = nccl.NcclCommunicator(comm.size, uid, comm.rank)
        self.kinds = {"float32": nccl.NCCL_FLOAT32, "float64": nccl.NCCL_FLOAT64}
        self.sum = nccl.NCCL_SUM

    def allreduce(self, flat: Array) -> Array:
        """``flat`` (1-D, contiguous, on this rank's GPU) summed over the ranks, in place."""
        stream = self.cupy.cuda.get_current_stream()
        kind = self.kinds[str(flat.dtype)]
        with self.backend.device:
            self.nccl.allReduce(flat.data.ptr, flat.data.ptr, flat.size, kind, self.sum, stream.ptr)
            with self.comm.watch("the NCCL gradient allreduce (CuPy)"):
                stream.synchronize()
        return flat


def _cupy_nccl() -> Any:
    """CuPy's NCCL bindings: a submodule ``import cupy`` does not load (``cupy.cuda.nccl`` is an
    AttributeError until it is imported)."""
    try:
        return _import("cupy.cuda.nccl")
    except ImportError as exc:
        raise RuntimeError(
            f"CuPy's NCCL bindings cannot be loaded ({exc}): install NCCL for your CUDA version "
            "(for CUDA 13: pip install nvidia-nccl-cu13)"
        ) from exc


class TorchNcclTransport:
    """Sums torch CUDA tensors over the ranks with ``torch.distributed.all_reduce`` (NCCL).

    ``kind`` is torch.distributed's backend: ``"nccl"``; the tests run the same code with
    ``"gloo"`` on the CPU, where there is no GPU.
    """

    def __init__(self, backend: Any, comm: Any, kind: str = "nccl") -> None:
        torch = import_library("torch")
        self.dist, self.comm, self.backend = torch.distributed, comm, backend
        self.name = f"{kind.upper()} (torch.distributed)"
        if not self.dist.is_initialized():
            here = _rendezvous(one_machine=comm.local_size == comm.size) if comm.rank == 0 else None
            address = comm.broadcast(here, f"the {kind} rendezvous broadcast")
            on_gpu = {"device_id": backend.device} if backend.device.type == "cuda" else {}
            self.dist.init_process_group(
                kind,
                init_method=f"tcp://{address}",
                rank=comm.rank,
                world_size=comm.size,
                timeout=datetime.timedelta(seconds=comm.timeout),
                **on_gpu,
            )
            # before MPI finalizes (atexit runs last-registered first): a group left alive at
            # exit aborts the process ("terminate called without an active exception")
            atexit.register(self.dist.destroy_process_group)
        elif (self.dist.get_rank(), self.dist.get_world_size()) != (comm.rank, comm.size):
            raise RuntimeError(
                f"torch.distributed is already set up as rank {self.dist.get_rank()} of "
                f"{self.dist.get_world_size()}, but MPI says rank {comm.rank} of {comm.size}"
            )

    def allreduce(self, flat: Array) -> Array:
        """``flat`` (1-D, contiguous, on this rank's device) summed over the ranks, in place."""
        self.dist.all_reduce(flat)
        with self.comm.watch(f"the {self.name} gradient allreduce"):
            self.backend.synchronize()
        return flat


def _rendezvous(one_machine: bool) -> str:
    """``host:port`` where rank 0 will listen: ``MASTER_ADDR``, else the loopback address when
    every rank is on this machine, else this machine's address; and a port free now."""
    host = os.environ.get("MASTER_ADDR") or ("127.0.0.1" if one_machine else socket.gethostbyname(socket.gethostname()))
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("", 0))
        port = probe.getsockname()[1]
    return f"{host}:{port}"
