"""Runs tests/distributed_cases.py's cases data-parallel, for tests/test_distributed.py:

    mpiexec -n P python -m mpi4py distributed_worker.py BACKEND OUT_DIR [CASE,CASE...]

Each rank writes OUT_DIR/<case>.<rank>.npz (its parameters) and .json (its history); a run with
``seed=None`` (rank 0's weights and generators broadcast) is the case ``seed_none``.
"""

import json
import pathlib
import sys

import numpy as np
from distributed_cases import CASES, parameters, train

import portnn as pn


def main(backend: str, out: str, names: str = "") -> None:
    comm = pn.distributed.init(timeout=60)
    for name in names.split(",") if names else [*CASES, "seed_none"]:
        case, seed = (name, 3) if name in CASES else ("adam_uneven_dropout", None)
        net, history = train(case, backend, comm, seed=seed)
        path = pathlib.Path(out) / f"{name}.{comm.rank}"
        np.savez(f"{path}.npz", **parameters(net))
        pathlib.Path(f"{path}.json").write_text(json.dumps(history.history))


if __name__ == "__main__":
    main(*sys.argv[1:])
