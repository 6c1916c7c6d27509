"""Data larger than memory, data-parallel (issue 24): ``fit(memmap, ..., distributed=comm)`` on 2
ranks ends with the weights and history of the in-memory data-parallel fit, bit for bit, each
rank reading only the rows of its shares."""

import json

import numpy as np
import pytest
from test_distributed import launch

import portnn as pn
from portnn import testing
from portnn.distributed.shares import share
from portnn.distributed.solo import SoloMPI

N, D, K, BATCH, EPOCHS = 57, 4, 3, 10, 3


@pytest.mark.parametrize("backend", ["numpy", "array_api_strict", "torch:cpu"])
def test_streamed_data_parallel_fit_is_the_in_memory_one(backend, tmp_path):
    reason = testing.backend_skip_reason(backend)
    if reason:
        pytest.skip(reason)
    rng = np.random.default_rng(11)
    np.save(tmp_path / "X.npy", rng.normal(size=(N, D)))
    np.save(tmp_path / "y.npy", rng.integers(0, K, N))
    done = launch(2, "distributed_streamed.py", backend, str(tmp_path))
    assert done.returncode == 0, done.stdout + done.stderr
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


def test_what_cannot_train_data_parallel_yet(tmp_path):
    np.save(tmp_path / "X.npy", np.zeros((20, 2)))
    np.save(tmp_path / "y.npy", np.zeros((20, 1)))
    Xm, ym = np.load(tmp_path / "X.npy", mmap_mode="r"), np.load(tmp_path / "y.npy", mmap_mode="r")
    comm = pn.distributed.Communicator(SoloMPI())
    net = pn.Sequential(pn.Dense(2, 1), seed=0)
    with pytest.raises(ValueError, match="streamed validation data"):
        net.fit(Xm, ym, validation_split=0.25, distributed=comm, progress=False)
    with pytest.raises(ValueError, match="iterable of batches"):
        net.fit([(np.zeros((4, 2)), np.zeros((4, 1)))], distributed=comm, progress=False)
