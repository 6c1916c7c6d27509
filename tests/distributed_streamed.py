"""Streamed data-parallel fits, for tests/test_streaming_distributed.py:

    mpiexec -n P python -m mpi4py distributed_streamed.py BACKEND DIR

Each rank fits the same network on DIR/X.npy, DIR/y.npy with ``distributed=comm`` three ways: in
memory, streamed from the memmaps, and streamed from a recording array-like (h5py's kind: rows
read ascending); it writes DIR/<way>.<rank>.npz (its parameters), DIR/history.<rank>.json (the
histories) and DIR/reads.<rank>.json (the rows each read of the array-like asked for).
"""

import json
import pathlib
import sys

import numpy as np

import portnn as pn


class Recording:
    """An array-like of NumPy rows that records the rows of every read (ascending only, as h5py)."""

    def __init__(self, array):
        self.data, self.shape, self.dtype, self.reads = array, array.shape, array.dtype, []

    def __getitem__(self, index):
        rows = np.arange(self.shape[0])[index]
        assert np.all(np.diff(rows) > 0), "rows must be read in ascending order"
        self.reads.append(rows.tolist())
        return self.data[index].copy()


def fit(backend, comm, X, y, w, Xv, yv):
    layers = [pn.Dense(X.shape[1], 8), pn.Tanh(), pn.Dropout(0.25), pn.Dense(8, 3)]
    net = pn.Sequential(*layers, backend=backend, dtype="float64", seed=5)
    history = net.fit(X, y, loss="cross_entropy", optimizer="adam", epochs=3, batch_size=10, sample_weight=w,
                      metrics=["accuracy"], validation_data=(Xv, yv), chunk_bytes=2000, progress=False,
                      distributed=comm)  # fmt: skip
    return {k: pn.to_numpy(v) for k, v in net.state_dict().items()}, history.history


def main(backend, folder):
    comm = pn.distributed.init(timeout=60)
    folder = pathlib.Path(folder)
    X, y = np.load(folder / "X.npy"), np.load(folder / "y.npy")
    Xm, ym = np.load(folder / "X.npy", mmap_mode="r"), np.load(folder / "y.npy", mmap_mode="r")
    w = np.linspace(0.5, 2.0, X.shape[0])
    recording = Recording(X)
    histories = {}
    for way, (Xs, ys) in {"memory": (X, y), "memmap": (Xm, ym), "arraylike": (recording, y)}.items():
        params, histories[way] = fit(backend, comm, Xs, ys, w, X[:20], y[:20])
        np.savez(folder / f"{way}.{comm.rank}.npz", **params)
    (folder / f"history.{comm.rank}.json").write_text(json.dumps(histories))
    (folder / f"reads.{comm.rank}.json").write_text(json.dumps(recording.reads))


if __name__ == "__main__":
    main(*sys.argv[1:])
