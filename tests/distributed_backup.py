"""A data-parallel fit with BackupAndRestore that rank 1 can crash, for
tests/test_distributed_faults.py:

    mpiexec -n 2 python -m mpi4py distributed_backup.py BACKUP OUT [crash]

With ``crash``, rank 1 raises after epoch 2 (the job aborts; rank 0 has backed up epochs 0-2);
without, the run (resumed from the backup if there is one) writes rank 0's weights and history
to OUT (.npz).
"""

import json
import sys

import numpy as np

import portnn as pn


def run(backup: str, comm=None, crash: bool = False):
    class Crash(pn.Callback):
        def on_epoch_end(self, model, epoch, logs):
            if crash and epoch == 2 and comm.rank == 1:
                raise RuntimeError("a crash on purpose")

    rng = np.random.default_rng(0)
    X = rng.normal(size=(30, 3))
    net = pn.Sequential(pn.Dense(3, 8), pn.Tanh(), pn.Dense(8, 1), dtype="float64", seed=1)
    callbacks = [pn.BackupAndRestore(backup), Crash()] if backup else []
    options = {"epochs": 6, "batch_size": 7, "progress": False, "distributed": comm}
    history = net.fit(X, X[:, :1] ** 2, optimizer=pn.optim.Adam(lr=0.01), callbacks=callbacks, **options)
    return net, history


if __name__ == "__main__":
    comm = pn.distributed.init(timeout=30)
    net, history = run(sys.argv[1], comm, crash=sys.argv[3:] == ["crash"])
    if comm.rank == 0:
        np.savez(
            sys.argv[2], history=json.dumps(history.history), **{k: pn.to_numpy(v) for k, v in net.state_dict().items()}
        )
