"""Data larger than memory (issue 24, overlap): the reading thread puts each chunk on the device
ahead of its steps (jax.device_put is asynchronous: the thread waits for it, the steps do not),
through the backend's own methods; host backends gather a memmap in place instead."""

import threading

import numpy as np
import pytest

import portnn as pn
from portnn.train.streamed import StreamedData


class ArrayLike:
    """Rows of a NumPy array behind shape, dtype and row indexing only (h5py's kind)."""

    def __init__(self, array):
        self.data, self.shape, self.dtype = array, array.shape, array.dtype

    def __getitem__(self, index):
        return self.data[index].copy()


def _fit(spec, X, y, **kw):
    net = pn.Sequential(pn.Dense(4, 6), pn.ReLU(), pn.Dense(6, 3), backend=spec, seed=2)
    net.fit(X, y, loss="cross_entropy", epochs=2, batch_size=8, chunk_bytes=600, progress=False, **kw)
    return net


def test_chunks_are_put_on_the_device_by_the_reading_thread(spec, monkeypatch):
    rng = np.random.default_rng(0)
    X, y = rng.normal(size=(64, 4)), rng.integers(0, 3, 64)
    bk = pn.get_backend(spec)
    puts, waits = [], []
    asarray, synchronize = bk.asarray, bk.synchronize

    def put(x, dtype=None):
        if getattr(x, "shape", (0,))[-1:] == (4,):  # the features of a chunk
            puts.append(threading.current_thread().name)
        return asarray(x, dtype)

    def wait(*arrays):
        waits.append(threading.current_thread().name)
        return synchronize(*arrays)

    monkeypatch.setattr(bk, "asarray", put)
    monkeypatch.setattr(bk, "synchronize", wait)
    streamed = _fit(spec, ArrayLike(X), y)
    monkeypatch.undo()
    # 600 bytes hold 12 rows of 4 + 1 values (as float64): one batch of 8 per chunk, 8 chunks an epoch
    # ... each put on the device, and waited for, by the reading thread (the steps' checks find them there)
    assert puts.count("portnn-read_0") == 16 and waits.count("portnn-read_0") == 16
    memory = _fit(spec, X, y)
    for key, value in memory.state_dict().items():
        np.testing.assert_array_equal(pn.to_numpy(streamed.state_dict()[key]), pn.to_numpy(value))


@pytest.mark.parametrize("spec_", ["numpy", "torch:cpu", "jax:cpu"])
def test_which_backends_gather_a_memmap_in_place(spec_, tmp_path):
    reason = pn.testing.backend_skip_reason(spec_)
    if reason:
        pytest.skip(reason)
    np.save(tmp_path / "X.npy", np.zeros((16, 4)))
    np.save(tmp_path / "y.npy", np.zeros(16, np.int64))
    Xm, ym = np.load(tmp_path / "X.npy", mmap_mode="r"), np.load(tmp_path / "y.npy", mmap_mode="r")
    net = _fit(spec_, Xm, ym)
    data = StreamedData(net, pn.losses.get_loss("cross_entropy"), *_rows(Xm, ym), None, 8, True, 600)
    assert data.in_place == (spec_ != "jax:cpu")  # JAX's arrays are device copies: put ahead instead


def _rows(X, y):
    from portnn.train.sources import rows_of

    return rows_of(X, y, "X", "y")


def test_reads_reuse_two_host_buffers_in_turn():
    from portnn.train.sources import Rows

    rows = Rows(np.arange(20.0).reshape(10, 2))
    first, second = rows.read(np.array([1, 4]), reuse=True), rows.read(None, 0, 3, reuse=True)
    assert first.tolist() == [[2.0, 3.0], [8.0, 9.0]] and second.tolist() == [[0.0, 1.0], [2.0, 3.0], [4.0, 5.0]]
    third = rows.read(np.array([9]), reuse=True)  # into the first's buffer: the second's rows stay
    assert np.shares_memory(first, third) and not np.shares_memory(second, third)
    assert third.tolist() == [[18.0, 19.0]] and second.tolist() == [[0.0, 1.0], [2.0, 3.0], [4.0, 5.0]]


@pytest.mark.parametrize("spec_", ["numpy", "torch:cpu", "jax:cpu"])
def test_a_non_finite_streamed_value_is_refused(spec_, tmp_path):
    reason = pn.testing.backend_skip_reason(spec_)
    if reason:
        pytest.skip(reason)
    X = np.ones((40, 4))
    X[33, 2] = np.nan
    np.save(tmp_path / "X.npy", X)
    np.save(tmp_path / "y.npy", np.zeros(40, np.int64))
    Xm, ym = np.load(tmp_path / "X.npy", mmap_mode="r"), np.load(tmp_path / "y.npy", mmap_mode="r")
    with pytest.raises(ValueError, match="X: contains NaN"):
        _fit(spec_, Xm, ym)
    with pytest.raises(ValueError, match="X: the model takes 4 features"):
        _fit(spec_, np.load(tmp_path / "X.npy", mmap_mode="r")[:, :3], ym)
