"""A data-parallel fit in which rank 1 fails, for tests/test_distributed_faults.py:

    mpiexec -n 2 python -m mpi4py distributed_faults.py MODE

MODE is ``raise`` (an exception), ``kill`` (SIGKILL) or ``stall`` (sleeps far past the 1 s
timeout), each at the end of rank 1's first epoch. Rank 0 first prints which PID each rank is.
"""

import os
import signal
import sys
import time

import numpy as np

import portnn as pn


class Fault(pn.Callback):
    def __init__(self, mode: str, rank: int) -> None:
        self.mode, self.rank = mode, rank

    def on_epoch_end(self, model, epoch, logs):
        if self.rank != 1 or epoch != 1:
            return
        if self.mode == "raise":
            raise RuntimeError("a fault on purpose")
        if self.mode == "kill":
            os.kill(os.getpid(), signal.SIGKILL)
        time.sleep(60)


def main(mode: str) -> None:
    comm = pn.distributed.init(timeout=1.0)
    where = comm.describe()
    if comm.rank == 0:
        print(where, flush=True)
    X = np.random.default_rng(0).normal(size=(40, 3))
    net = pn.Sequential(pn.Dense(3, 4), pn.Tanh(), pn.Dense(4, 1), seed=0)
    net.fit(X, X[:, :1], epochs=50, batch_size=8, callbacks=[Fault(mode, comm.rank)], distributed=comm, progress=False)
    print("finished", flush=True)  # never: the job must end before


if __name__ == "__main__":
    main(sys.argv[1])
