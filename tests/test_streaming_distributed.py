"""Data larger than memory, data-parallel (issue 24): ``fit(memmap, ..., distributed=comm)`` on 2
ranks ends with the weights and history of the in-memory data-parallel fit, bit for bit, each
rank reading only the rows of its shares; so does streamed validation data; an iterable of
batches, read whole by every rank, trains each rank on its share of every batch."""

import json

import numpy as np
import pytest
from test_distributed import launch

import portnn as pn
from portnn import testing
from portnn.distributed.shares import share
from portnn.distributed.solo import SoloMPI

N, D, K, BATCH, EPOCHS = 57, 4, 3, 10, 3


def run_two_ranks(backend, tmp_path, *mode):
    """The worker on 2 MPI ranks over a memmapped data set written to ``tmp_path`` (skipped where
    ``backend`` is missing); each rank writes what the test compares."""
    reason = testing.backend_skip_reason(backend)
    if reason:
        pytest.skip(reason)
    rng = np.random.default_rng(11)
    np.save(tmp_path / "X.npy", rng.normal(size=(N, D)))
    np.save(tmp_path / "y.npy", rng.integers(0, K, N))
    done = launch(2, "distributed_streamed.py", backend, str(tmp_path), *mode)
    assert done.returncode == 0, done.stdout + done.stderr


@pytest.mark.parametrize("backend", ["numpy", "array_api_strict", "torch:cpu"])
def test_streamed_data_parallel_fit_is_the_in_memory_one(backend, tmp_path):
    run_two_ranks(backend, tmp_path)
    for rank in (0, 1):
        memory = np.load(tmp_path / f"memory.{rank}.npz")
        histories = json.loads((tmp_path / f"history.{rank}.json").read_text())
        for way in ("memmap", "arraylike"):
            streamed = np.load(tmp_path / f"{way}.{rank}.npz")
            for key in memory.files:
                np.testing.assert_array_equal(streamed[key], memory[key], err_msg=f"{way} rank {rank} {key}")
            assert histories[way] == histories["memory"], way
        # each rank read its own share of every batch, no more
        reads = json.loads((tmp_path / f"reads.{rank}.json").read_text())
        mine = sum(hi - lo for lo, hi in (share(min(a + BATCH, N) - a, 2, rank) for a in range(0, N, BATCH)))
        assert sum(len(r) for r in reads) == EPOCHS * mine


def _ways(npz) -> dict:
    """``{way: {parameter: array}}`` from the worker's ``more.<rank>.npz``."""
    out: dict = {}
    for key in npz.files:
        way, name = key.split("/", 1)
        out.setdefault(way, {})[name] = npz[key]
    return out


def _assert_one_process(params, alone, history, alone_history, way):
    """As tests/test_distributed.py compares P ranks with one process (float64)."""
    for key, value in params.items():
        np.testing.assert_allclose(value, alone[key], rtol=0, atol=1e-12, err_msg=f"{way} {key}")
    assert history.keys() == alone_history.keys(), way
    for key, values in history.items():
        np.testing.assert_allclose(values, alone_history[key], rtol=1e-9, err_msg=f"{way} {key}")


@pytest.mark.parametrize("backend", ["numpy", "array_api_strict", "torch:cpu"])
def test_streamed_validation_and_batches_data_parallel(backend, tmp_path):
    """2 ranks: streamed validation data (each rank reading its share) gives the history of the
    same validation data in memory, bit for bit where a rank's share is one chunk; an iterable of
    batches the weights of the data-parallel fit of those rows as arrays, bit for bit, and of one
    process fitting the batches (as for arrays); ranks whose iterables differ all stop."""
    run_two_ranks(backend, tmp_path, "more")
    runs = [
        (_ways(np.load(tmp_path / f"more.{rank}.npz")), json.loads((tmp_path / f"more.{rank}.json").read_text()))
        for rank in (0, 1)
    ]
    assert runs[1][1]["histories"] == runs[0][1]["histories"]  # every rank ends alike, bit for bit
    for way, params in runs[0][0].items():
        for key, value in params.items():
            np.testing.assert_array_equal(runs[1][0][way][key], value, err_msg=f"{way} {key}")
    for rank, (ways, record) in enumerate(runs):
        histories = record["histories"]
        for way, reference in [
            ("val.memmap", "val.memory"),
            ("val.arraylike", "val.memory"),
            ("split.memmap", "split.memory"),
            ("batches", "batches.memory"),
        ]:
            assert histories[way] == histories[reference], f"{way} rank {rank}"
            for key, value in ways[reference].items():
                np.testing.assert_array_equal(ways[way][key], value, err_msg=f"{way} rank {rank} {key}")
        # validation data in 3-row chunks: each share's loss a sum over its chunks
        for key, values in histories["val.chunks"].items():
            np.testing.assert_allclose(values, histories["val.memory"][key], rtol=1e-12, err_msg=key)
            if not key.startswith("val_"):
                assert values == histories["val.memory"][key], key
        for way in ("batches", "uneven"):
            alone = f"{way}.alone"
            _assert_one_process(ways[way], ways[alone], histories[way], histories[alone], f"{way} rank {rank}")
        lo, hi = share(20, 2, rank)  # the streamed validation rows: this rank's share, once an epoch
        assert record["reads"] == [list(range(lo, hi))] * EPOCHS
        assert "iterables differ at batch 2 " in record["errors"]["other_rows"]
        assert "iterables differ at batch 5 " in record["errors"]["shorter"]


def _one_rank_fit(spec, data, **kw):
    bk = pn.get_backend(spec)
    layers = [pn.Dense(D, 8), pn.Tanh(), pn.Dropout(0.25), pn.Dense(8, K)]
    net = pn.Sequential(*layers, backend=spec, dtype="float64" if bk.float64 else "float32", seed=5)
    comm = pn.distributed.Communicator(SoloMPI())
    kw = {"loss": "cross_entropy", "optimizer": "adam", "epochs": 2, "metrics": ["accuracy"], **kw}
    history = net.fit(*data, **kw, progress=False, distributed=comm)
    return {k: pn.to_numpy(v) for k, v in net.state_dict().items()}, history.history


def test_one_rank_streams_as_in_memory(spec, tmp_path):
    """(No MPI: portnn's one-rank stand-in.) An iterable of batches and memmapped validation data
    (streamed validation_split, too) train data-parallel with the weights and history of the
    arrays in memory, bit for bit."""
    rng = np.random.default_rng(4)
    X, y, w = rng.normal(size=(N, D)), rng.integers(0, K, N), np.linspace(0.5, 2.0, N)
    np.save(tmp_path / "X.npy", X)
    np.save(tmp_path / "y.npy", y)
    Xm, ym = np.load(tmp_path / "X.npy", mmap_mode="r"), np.load(tmp_path / "y.npy", mmap_mode="r")
    batches = [(X[a : a + BATCH], y[a : a + BATCH], w[a : a + BATCH]) for a in range(0, N, BATCH)]
    memory = _one_rank_fit(
        spec, (X, y), batch_size=BATCH, shuffle=False, sample_weight=w, validation_data=(X[:20], y[:20])
    )
    streamed = _one_rank_fit(spec, (batches,), validation_data=(Xm[:20], ym[:20]), chunk_bytes=2000)
    split = [
        _one_rank_fit(spec, data, batch_size=BATCH, validation_split=0.25, chunk_bytes=2000)
        for data in ((X, y), (Xm, ym))
    ]
    for a, b in [(memory, streamed), tuple(split)]:
        assert a[1] == b[1]
        for key, value in a[0].items():
            np.testing.assert_array_equal(b[0][key], value, err_msg=key)


def test_one_rank_batches_resume_from_a_backup(tmp_path):
    """(No MPI.) An iterable of batches data-parallel with BackupAndRestore: a run stopped by an
    error after epoch 2 and started again ends with the uninterrupted run's weights and history."""

    class Crash(pn.Callback):
        def on_epoch_end(self, run, epoch, logs):
            if epoch == 2:
                raise RuntimeError("a crash on purpose")

    rng = np.random.default_rng(0)
    X = rng.normal(size=(30, 3))
    batches = [(X[a : a + 7], X[a : a + 7, :1] ** 2) for a in range(0, 30, 7)]

    def run(path, *callbacks):
        net = pn.Sequential(pn.Dense(3, 8), pn.Tanh(), pn.Dropout(0.2), pn.Dense(8, 1), dtype="float64", seed=1)
        comm = pn.distributed.Communicator(SoloMPI())
        callbacks = [pn.BackupAndRestore(path), *callbacks]
        net.fit(batches, optimizer="adam", epochs=5, validation_data=batches[:2], callbacks=callbacks,
                progress=False, distributed=comm)  # fmt: skip
        return {k: pn.to_numpy(v) for k, v in net.state_dict().items()}, net.history.history

    with pytest.raises(RuntimeError, match="on purpose"):
        run(tmp_path / "run.backup", Crash())
    resumed, whole = run(tmp_path / "run.backup"), run(tmp_path / "other.backup")
    assert resumed[1] == whole[1] and len(whole[1]["loss"]) == 5
    for key, value in whole[0].items():
        np.testing.assert_array_equal(resumed[0][key], value, err_msg=key)


def test_what_cannot_train_data_parallel(tmp_path):
    comm = pn.distributed.Communicator(SoloMPI())
    net = pn.Sequential(pn.Dense(2, 1), seed=0)
    batches = ((np.zeros((4, 2)), np.zeros((4, 1))) for _ in range(3))  # one pass only
    with pytest.raises(ValueError, match="one-shot iterator"):
        net.fit(batches, epochs=2, distributed=comm, progress=False)
    with pytest.raises(ValueError, match="gave no batches"):
        net.fit([], distributed=comm, progress=False)
    with pytest.raises(ValueError, match="with a Communicator"):
        net.fit([(np.zeros((4, 2)), np.zeros((4, 1)))], distributed=object(), progress=False)
