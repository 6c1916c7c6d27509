"""Streamed data-parallel fits, for tests/test_streaming_distributed.py:

    mpiexec -n P python -m mpi4py distributed_streamed.py BACKEND DIR [more]

Each rank fits the same network on DIR/X.npy, DIR/y.npy with ``distributed=comm`` three ways: in
memory, streamed from the memmaps, and streamed from a recording array-like (h5py's kind: rows
read ascending); it writes DIR/<way>.<rank>.npz (its parameters), DIR/history.<rank>.json (the
histories) and DIR/reads.<rank>.json (the rows each read of the array-like asked for).

With ``more``, streamed validation data and iterables of batches instead (see :func:`more`):
DIR/more.<rank>.npz (each way's parameters) and DIR/more.<rank>.json.
"""

import itertools
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


def fit_with(backend, comm, data, **kw):
    """:func:`fit`'s network and settings on ``data`` (``(X, y)``, or ``(batches,)``)."""
    layers = [pn.Dense(4, 8), pn.Tanh(), pn.Dropout(0.25), pn.Dense(8, 3)]
    net = pn.Sequential(*layers, backend=backend, dtype="float64", seed=5)
    kw = {"loss": "cross_entropy", "optimizer": "adam", "epochs": 3, "metrics": ["accuracy"], **kw}
    history = net.fit(*data, **kw, progress=False, distributed=comm)
    return {k: pn.to_numpy(v) for k, v in net.state_dict().items()}, history.history


def more(backend, comm, folder, X, y, Xm, ym, w):
    """Each way's parameters and history: validation data in memory (``val.memory``), memmapped
    (a rank's share in one chunk; ``val.chunks``: 3-row chunks), an array-like recording its reads
    (with streamed training rows); ``validation_split`` in memory and of memmaps; an iterable of
    batches, against the arrays (``batches.memory``) and one process (``.alone``); uneven batches
    (one of 1 row) with an iterable of validation batches; and the errors of ranks whose iterables
    differ."""
    val = Recording(X[:20])
    runs = {
        "val.memory": ((X, y), {"validation_data": (X[:20], y[:20], w[:20])}),
        "val.memmap": ((X, y), {"validation_data": (Xm[:20], ym[:20], w[:20])}),
        "val.arraylike": ((Xm, ym), {"validation_data": (val, y[:20], w[:20])}),
        "val.chunks": ((X, y), {"validation_data": (Xm[:20], ym[:20], w[:20]), "chunk_bytes": 120}),
        "split.memory": ((X, y), {"validation_split": 0.25}),
        "split.memmap": ((Xm, ym), {"validation_split": 0.25}),
    }
    results = {}
    for way, (data, kw) in runs.items():
        results[way] = fit_with(backend, comm, data, sample_weight=w, batch_size=10, **{"chunk_bytes": 2000, **kw})
    batches = [(X[a : a + 10], y[a : a + 10], w[a : a + 10]) for a in range(0, X.shape[0], 10)]
    valid = {"validation_data": (X[:20], y[:20], w[:20])}
    results["batches.memory"] = fit_with(backend, comm, (X, y), batch_size=10, shuffle=False, sample_weight=w, **valid)
    results["batches"] = fit_with(backend, comm, (batches,), **valid)
    results["batches.alone"] = fit_with(backend, None, (batches,), **valid)
    cuts = [0, 10, 11, 21, 30, 40, 50, X.shape[0]]  # a batch of 1 row: rank 1 has none of it
    uneven = [(X[a:b], y[a:b], w[a:b]) for a, b in itertools.pairwise(cuts)]
    valid = {"validation_data": [(X[:7], y[:7]), (X[7:8], y[7:8]), (X[8:20], y[8:20])]}
    results["uneven"] = fit_with(backend, comm, (uneven,), **valid)
    results["uneven.alone"] = fit_with(backend, None, (uneven,), **valid)
    errors = {}
    other = [*batches[:2], tuple(part[:2] for part in batches[2]), *batches[3:]]  # batch 2: 2 rows, not 10
    for way, theirs in {"other_rows": other, "shorter": batches[:-1]}.items():
        try:
            fit_with(backend, comm, (batches if comm.rank == 0 else theirs,))
        except ValueError as exc:
            errors[way] = str(exc)
    params = {f"{way}/{k}": v for way, (state, _) in results.items() for k, v in state.items()}
    np.savez(folder / f"more.{comm.rank}.npz", **params)
    histories = {way: history for way, (_, history) in results.items()}
    record = {"histories": histories, "errors": errors, "reads": val.reads}
    (folder / f"more.{comm.rank}.json").write_text(json.dumps(record))


def main(backend, folder, mode="arrays"):
    comm = pn.distributed.init(timeout=60)
    folder = pathlib.Path(folder)
    X, y = np.load(folder / "X.npy"), np.load(folder / "y.npy")
    Xm, ym = np.load(folder / "X.npy", mmap_mode="r"), np.load(folder / "y.npy", mmap_mode="r")
    w = np.linspace(0.5, 2.0, X.shape[0])
    if mode == "more":
        return more(backend, comm, folder, X, y, Xm, ym, w)
    recording = Recording(X)
    histories = {}
    for way, (Xs, ys) in {"memory": (X, y), "memmap": (Xm, ym), "arraylike": (recording, y)}.items():
        params, histories[way] = fit(backend, comm, Xs, ys, w, X[:20], y[:20])
        np.savez(folder / f"{way}.{comm.rank}.npz", **params)
    (folder / f"history.{comm.rank}.json").write_text(json.dumps(histories))
    (folder / f"reads.{comm.rank}.json").write_text(json.dumps(recording.reads))


if __name__ == "__main__":
    main(*sys.argv[1:])
