"""The torch.distributed transport's code (rendezvous over MPI, all_reduce, the watch) on the CPU
with gloo, for tests/test_distributed.py (NCCL needs GPUs):

    mpiexec -n 2 python -m mpi4py distributed_gloo.py
"""

import numpy as np

import portnn as pn
from portnn._xp.nccl import TorchNcclTransport

comm = pn.distributed.init(timeout=60)
backend = pn.get_backend("torch:cpu")
transport = TorchNcclTransport(backend, comm, kind="gloo")
summed = transport.allreduce(backend.asarray(np.arange(4.0) * (comm.rank + 1), backend.dtype("float64")))
print(f"rank {comm.rank}: {transport.name}: {pn.to_numpy(summed).tolist()}", flush=True)
