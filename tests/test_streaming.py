"""Data larger than memory (issue 24, part 1): memmaps and array-likes are streamed by fit,
evaluate and predict a chunk at a time, with the weights, logs and outputs of the in-memory path."""

import threading
import tracemalloc

import numpy as np
import pytest

import portnn as pn
from portnn.train.sources import is_streamed

N, D, K = 300, 5, 3


class DiskLike:
    """An h5py-like dataset: shape, dtype, row indexing with ascending indices only (as h5py), and
    no conversion to an array; it records the rows of each read."""

    def __init__(self, array):
        self.data, self.shape, self.dtype, self.reads, self.threads = array, array.shape, array.dtype, [], set()

    def __getitem__(self, index):
        self.threads.add(threading.current_thread().name)
        if isinstance(index, np.ndarray):
            assert np.all(np.diff(index) > 0), "rows must be read in ascending order"
            self.reads.append(index.shape[0])
        else:
            self.reads.append(len(range(*index.indices(self.shape[0]))))
        return self.data[index].copy()

    def __array__(self, *args, **kwargs):
        raise AssertionError("read whole")


@pytest.fixture
def files(tmp_path):
    rng = np.random.default_rng(3)
    X = rng.normal(size=(N, D)).astype(np.float32)
    y = rng.integers(0, K, N)
    np.save(tmp_path / "X.npy", X)
    np.save(tmp_path / "y.npy", y)
    return X, y, np.load(tmp_path / "X.npy", mmap_mode="r"), np.load(tmp_path / "y.npy", mmap_mode="r")


def _net(spec, dtype="float32"):
    layers = [pn.Dense(D, 8), pn.ReLU(), pn.Dropout(0.25), pn.Dense(8, K)]
    return pn.Sequential(*layers, backend=spec, dtype=dtype, seed=7)


def _fit(spec, X, y, Xv, yv, **kw):
    net = _net(spec)
    h = net.fit(X, y, loss="cross_entropy", optimizer="adam", epochs=3, batch_size=16, metrics=["accuracy"],
                validation_data=(Xv, yv), progress=False, **kw)  # fmt: skip
    return {k: pn.to_numpy(v) for k, v in net.state_dict().items()}, h.history


def _same(a, b):
    assert a[0].keys() == b[0].keys()
    for key in a[0]:
        np.testing.assert_array_equal(a[0][key], b[0][key], err_msg=key)
    # streamed validation data is measured a chunk of rows at a time (the summation order)
    assert {k: v for k, v in a[1].items() if not k.startswith("val_")} == {
        k: v for k, v in b[1].items() if not k.startswith("val_")
    }
    for key in a[1]:
        np.testing.assert_allclose(a[1][key], b[1][key], rtol=1e-5)


@pytest.mark.parametrize("shuffle", [True, False])
def test_memmap_fit_is_bit_identical_to_in_memory(spec, files, shuffle):
    X, y, Xm, ym = files
    w = np.linspace(0.5, 2.0, N)
    memory = _fit(spec, X, y, X[:90], y[:90], shuffle=shuffle, sample_weight=w)
    streamed = _fit(spec, Xm, ym, Xm[:90], ym[:90], shuffle=shuffle, sample_weight=w, chunk_bytes=1000)
    _same(memory, streamed)


def test_array_like_is_read_in_sorted_chunks_within_the_budget(spec, files):
    X, y, _, _ = files
    disk_X, disk_y = DiskLike(X), DiskLike(y)
    memory = _fit(spec, X, y, X[:90], y[:90], class_weight={0: 2.0})
    streamed = _fit(spec, disk_X, disk_y, X[:90], y[:90], class_weight={0: 2.0}, chunk_bytes=1000)
    _same(memory, streamed)
    # 1000 bytes hold 20 rows of 5 + 1 values (as float64): one batch of 16 per chunk
    assert disk_X.reads and max(disk_X.reads) == 16
    assert disk_y.reads == [N, *disk_X.reads]  # class weights: the labels read once, whole
    # the next chunk is read by a background thread while the current one trains
    assert any(name.startswith("portnn-read") for name in disk_X.threads)


def test_validation_split_streamed(files):
    X, y, Xm, ym = files
    memory, streamed = _net("numpy"), _net("numpy")
    kw = dict(loss="cross_entropy", epochs=2, batch_size=32, validation_split=0.25, progress=False)
    h1, h2 = memory.fit(X, y, **kw), streamed.fit(Xm, ym, chunk_bytes=3000, **kw)
    assert h1.history == h2.history
    for key, value in memory.state_dict().items():
        np.testing.assert_array_equal(value, streamed.state_dict()[key])


def test_evaluate_and_predict_streamed(spec, files, tmp_path):
    X, y, Xm, ym = files
    net = _net(spec)
    net.fit(X, y, loss="cross_entropy", epochs=2, batch_size=32, progress=False)
    kw = dict(batch_size=50, metrics=["accuracy"], sample_weight=np.arange(N) % 3 + 1.0)
    assert net.evaluate(Xm, ym, **kw) == net.evaluate(X, y, **kw)
    expected = pn.to_numpy(net.predict(X, batch_size=50))
    got = net.predict(Xm, batch_size=50)
    assert isinstance(got, np.ndarray)
    np.testing.assert_array_equal(got, expected)
    out = np.lib.format.open_memmap(tmp_path / "out.npy", mode="w+", dtype=got.dtype, shape=got.shape)
    assert net.predict(DiskLike(X), batch_size=50, out=out) is out
    np.testing.assert_array_equal(np.load(tmp_path / "out.npy"), expected)


def test_memory_is_bounded_by_the_chunk_budget(tmp_path):
    """One epoch on a 25.6 MB float32 memmap trained in float64 (51 MB in memory, and 8 MB of
    one-hot labels): the traced peak stays a few chunks of 1 MB."""
    n, d = 100_000, 64
    X = np.lib.format.open_memmap(tmp_path / "X.npy", mode="w+", dtype=np.float32, shape=(n, d))
    X[:] = 0.5
    X.flush()
    np.save(tmp_path / "y.npy", np.arange(n) % 10)
    Xm, ym = np.load(tmp_path / "X.npy", mmap_mode="r"), np.load(tmp_path / "y.npy", mmap_mode="r")
    net = pn.Sequential(pn.Dense(d, 10), dtype="float64", seed=0)
    tracemalloc.start()
    try:
        net.fit(Xm, ym, loss="cross_entropy", epochs=1, batch_size=1024, progress=False, chunk_bytes=2**20)
        net.evaluate(Xm, ym, batch_size=1024, chunk_bytes=2**20)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 8 * 2**20, f"traced peak {peak / 2**20:.1f} MB"


def test_the_rule():
    assert not is_streamed(np.zeros((2, 2))) and not is_streamed([[1.0]]) and not is_streamed((1.0,))
    assert is_streamed(DiskLike(np.zeros((2, 2))))


def test_streamed_rule_for_memmaps(files):
    _, _, Xm, _ = files
    assert is_streamed(Xm) and is_streamed(Xm[:10]) and not is_streamed(np.asarray(Xm))


def test_clear_errors(files):
    _, _, Xm, ym = files
    net = _net("numpy")
    with pytest.raises(ValueError, match="chunk_bytes"):
        net.fit(Xm, ym, loss="cross_entropy", chunk_bytes=0, progress=False)
    with pytest.raises(ValueError, match="y: expected 300 rows"):
        net.fit(Xm, ym[:10], loss="cross_entropy", progress=False)
    with pytest.raises(ValueError, match="distributed: streamed data"):
        net.fit(Xm, ym, loss="cross_entropy", distributed=object(), progress=False)
    with pytest.raises(ValueError, match="out: expected shape"):
        net.predict(Xm, out=np.zeros((N, K + 1), np.float32))
    with pytest.raises(ValueError, match="X: the model takes 5 features"):
        net.predict(DiskLike(np.zeros((4, 3), np.float32)))


def test_readme_section_runs(capsys):
    from readme_blocks import python_block

    exec(compile(python_block("## Data larger than memory"), "README.md", "exec"), {})
    assert float(capsys.readouterr().out.strip()) > 0


RSS_SCRIPT = """
import sys, numpy as np, portnn as pn
def rss_anon_mb():
    with open("/proc/self/status") as f:
        return next(int(line.split()[1]) for line in f if line.startswith("RssAnon")) / 1024
X, y = np.load(sys.argv[1], mmap_mode="r"), np.load(sys.argv[2], mmap_mode="r")
net = pn.Sequential(pn.Dense(64, 10), backend="torch:cpu", dtype="float64", seed=0)
kw = dict(loss="cross_entropy", batch_size=1024, progress=False, chunk_bytes=2**20)
net.fit(X[:4096], y[:4096], **kw)  # torch and the step warmed up before measuring
before = rss_anon_mb()
net.fit(X, y, **kw)
print(rss_anon_mb() - before)
"""


def test_torch_anonymous_memory_is_bounded(tmp_path):
    """One torch:cpu epoch on the 25.6 MB memmap above (float64: 51 MB in memory) grows the
    process's anonymous memory (RssAnon; the memmap's pages are file-backed) by a few chunks;
    measured in a fresh process (the in-memory fit grew it by 56 MB there)."""
    import subprocess
    import sys

    pytest.importorskip("torch")
    n = 100_000
    X = np.lib.format.open_memmap(tmp_path / "X.npy", mode="w+", dtype=np.float32, shape=(n, 64))
    X[:] = 0.5
    X.flush()
    np.save(tmp_path / "y.npy", np.arange(n) % 10)
    args = [sys.executable, "-c", RSS_SCRIPT, str(tmp_path / "X.npy"), str(tmp_path / "y.npy")]
    growth = float(subprocess.run(args, capture_output=True, text=True, check=True).stdout.strip().splitlines()[-1])
    assert growth < 25, f"RssAnon grew by {growth:.1f} MB"
