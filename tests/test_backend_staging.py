"""What puts a streamed chunk on the device (Backend.stage, Backend.host_dtype), in the generic
form every backend has; the CUDA form (pinned buffers, a side stream) runs only on a GPU."""

import numpy as np

import portnn as pn


def test_stage_puts_host_arrays_on_the_device_in_their_dtypes(spec, monkeypatch):
    bk = pn.get_backend(spec)
    dtype = bk.dtype("float32")
    X = np.arange(12, dtype=bk.host_dtype(dtype)).reshape(4, 3)
    labels = np.array([2, 0, 1, 1])
    waits = []
    synchronize = bk.synchronize
    monkeypatch.setattr(bk, "synchronize", lambda *a: waits.append(len(a)) or synchronize(*a))
    Xd, none, yd = bk.stage(X, None, labels)
    assert none is None and waits == [2]  # one wait for the whole chunk
    pn.testing.assert_on_backend(Xd, bk)
    pn.testing.assert_on_backend(yd, bk)
    assert Xd.dtype == dtype and bk.host_dtype(Xd.dtype) == np.float32
    np.testing.assert_array_equal(pn.to_numpy(Xd), X)
    np.testing.assert_array_equal(pn.to_numpy(yd), labels)


def test_host_dtype_names_the_numpy_dtype_of_every_float_dtype(spec):
    bk = pn.get_backend(spec)
    for name in ("float32", "float64") if bk.float64 else ("float32",):
        assert bk.host_dtype(bk.dtype(name)) == np.dtype(name)


def test_row_taker_gathers_rows_of_a_read_only_host_array_in_any_order(spec, tmp_path):
    bk = pn.get_backend(spec)
    path = tmp_path / "X.npy"
    np.save(path, np.arange(40, dtype=np.float32).reshape(10, 4))
    X = np.load(path, mmap_mode="r")  # read-only, as a streamed memmap is
    rows = np.array([7, 0, 7, 3, 9])
    for backend in (bk, bk.variant(fast_paths=False)):  # the fast path against the generic form
        taken = backend.row_taker(X)(rows)
        pn.testing.assert_on_backend(taken, backend)
        np.testing.assert_array_equal(pn.to_numpy(taken), np.asarray(X)[rows])
        assert pn.to_numpy(taken).dtype == np.float32
    assert not X.flags.writeable and np.array_equal(X[1], [4, 5, 6, 7])  # only read
