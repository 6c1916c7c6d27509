"""Data larger than memory (issue 24, overlap): a streamed epoch on the staged path reads nothing
back from the device outside the loop's deliberate reads, so ``pn.testing.NoHostSync`` holds on a
GPU. Proved here on jax:cpu (the staged path) with a test-only guard: JAX's own transfer guard
does not fire on CPU, so every read of a JAX array's value raises while the guard is armed."""

import contextlib
import threading

import numpy as np
import pytest

import portnn as pn

jax_array = pytest.importorskip("jax._src.array")


class ArrayLike:
    """Rows of a NumPy array behind shape, dtype and row indexing only (h5py's kind)."""

    def __init__(self, array):
        self.data, self.shape, self.dtype = array, array.shape, array.dtype

    def __getitem__(self, index):
        return self.data[index].copy()


@pytest.fixture
def guarded(monkeypatch):
    """jax:cpu with ``host_sync_forbidden`` armed for real: a read of a JAX array's value in the
    thread that armed it raises, except the deliberate ones (``Backend.read``)."""
    reason = pn.testing.backend_skip_reason("jax:cpu")
    if reason:
        pytest.skip(reason)
    bk = pn.get_backend("jax:cpu")
    state = threading.local()
    value, to_host = jax_array.ArrayImpl._value, type(bk).to_host

    @contextlib.contextmanager
    def mode(self, allowed):
        before = getattr(state, "forbidden", False)
        state.forbidden = not allowed
        try:
            yield
        finally:
            state.forbidden = before

    def guarded_value(self):
        if getattr(state, "forbidden", False):
            raise RuntimeError("host read of device data while forbidden")
        return value.fget(self)

    def guarded_to_host(x, copy=True):  # NumPy takes a CPU array's buffer without asking _value
        guarded_value(x)
        return to_host(x, copy)

    monkeypatch.setattr(type(bk), "to_host", staticmethod(guarded_to_host))
    monkeypatch.setattr(type(bk), "syncs_with_host", property(lambda self: True))
    monkeypatch.setattr(type(bk), "_sync_mode", mode)
    monkeypatch.setattr(jax_array.ArrayImpl, "_value", property(guarded_value))
    return bk


def _net(spec):
    return pn.Sequential(pn.Dense(4, 6), pn.ReLU(), pn.Dense(6, 3), backend=spec, seed=2)


def _data(n=64):
    rng = np.random.default_rng(0)
    return rng.normal(size=(n, 4)), rng.integers(0, 3, n)


def test_the_guard_catches_a_host_read(guarded):
    x = guarded.asarray(np.ones(3))
    with guarded.host_sync_forbidden():
        assert guarded.read(guarded.xp.sum(x)) == 3.0  # deliberate: allowed
        with pytest.raises(RuntimeError, match="forbidden"):
            pn.to_numpy(x)


@pytest.mark.parametrize("loss", ["cross_entropy", "mse"])
def test_a_streamed_epoch_reads_nothing_back(guarded, loss):
    X, y = _data()
    y_used = y if loss == "cross_entropy" else np.eye(3)[y]
    Xv, yv = _data(24)
    yv_used = yv if loss == "cross_entropy" else np.eye(3)[yv]
    guard = pn.testing.NoHostSync()
    net = _net("jax:cpu")
    kw = dict(loss=loss, epochs=2, batch_size=8, chunk_bytes=600, progress=False)
    try:
        net.fit(ArrayLike(X), y_used, validation_data=(ArrayLike(Xv), yv_used), callbacks=[guard], **kw)
    finally:
        guard.close()
    assert guard.entered
    memory = _net("jax:cpu")
    memory.fit(X, y_used, validation_data=(Xv, yv_used), **kw)
    for key, value in memory.state_dict().items():
        np.testing.assert_array_equal(pn.to_numpy(net.state_dict()[key]), pn.to_numpy(value))


@pytest.mark.parametrize(
    "bad, message",
    [("nan", "X: contains NaN; first offending row is 3"), ("label", "class labels must be in \\[0, 3\\); row 3")],
)
def test_errors_found_by_the_reading_thread_name_the_chunk_rows(bad, message):
    X, y = _data()
    if bad == "nan":
        X[40 + 3, 1] = np.nan
    else:
        y[40 + 3] = 7
    net = _net("numpy")
    kw = dict(loss="cross_entropy", epochs=1, batch_size=8, chunk_bytes=600, shuffle=False, progress=False)
    with pytest.raises(ValueError, match=message):
        net.fit(ArrayLike(X), y, **kw)


@pytest.mark.parametrize("form", ["memmap", "array-like"])
def test_a_streamed_epoch_never_waits_for_the_device(spec, form, tmp_path):
    """The GPU backends (ci/gpu.sh's host-sync section): a streamed fit, with streamed
    validation, under ``NoHostSync``, ends with the in-memory fit's weights."""
    if not pn.get_backend(spec).syncs_with_host:
        pytest.skip(f"{spec} computes on the host: there is no device to wait for")
    X, y = pn.datasets.synthetic_classification(256, 20, 3, seed=0)
    np.save(tmp_path / "X.npy", X)
    Xs = np.load(tmp_path / "X.npy", mmap_mode="r") if form == "memmap" else ArrayLike(X)
    kw = dict(loss="cross_entropy", epochs=2, batch_size=16, chunk_bytes=8192, progress=False)

    def fit(Xt, Xv, callbacks):
        layers = [pn.Dense(20, 32), pn.ReLU(), pn.Dropout(0.25), pn.Dense(32, 3)]
        net = pn.Sequential(*layers, backend=spec, dtype="float32", seed=0)
        net.fit(Xt, y, validation_data=(Xv, y[:64]), callbacks=callbacks, **kw)
        return net

    guard = pn.testing.NoHostSync()
    try:
        streamed = fit(Xs, Xs[:64] if form == "memmap" else ArrayLike(X[:64]), [guard])
    finally:
        guard.close()
    assert guard.entered
    memory = fit(X, X[:64], [])
    for key, value in memory.state_dict().items():
        np.testing.assert_array_equal(pn.to_numpy(streamed.state_dict()[key]), pn.to_numpy(value), err_msg=key)
