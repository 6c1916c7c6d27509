"""fit: batching, shuffling, validation, callbacks, progress and divergence."""

import io

import numpy as np
import pytest

import portnn as pn
from portnn.train.step import TrainStep


def regression(rng, n=64):
    X = rng.normal(size=(n, 3))
    return X, X @ np.array([[1.0], [-2.0], [0.5]]) + 0.1


def linear_net(backend="numpy", dtype="float64", seed=0):
    return pn.Sequential(pn.Dense(3, 1), backend=backend, dtype=dtype, seed=seed)


def test_history_has_one_loss_per_epoch_and_decreases(bk, rng):
    X, y = regression(rng)
    net = linear_net(bk, "float32")
    history = net.fit(X, y, loss="mse", optimizer=pn.optim.SGD(lr=0.05), epochs=20, batch_size=16, progress=False)
    losses = history.history["loss"]
    assert len(losses) == 20 and all(isinstance(v, float) for v in losses)
    assert losses[-1] < 0.05 * losses[0]


def test_epoch_loss_is_the_mean_over_samples(rng):
    X, y = regression(rng, n=10)
    net = linear_net()
    w = net.state_dict()
    history = net.fit(X, y, optimizer=pn.optim.SGD(lr=1e-12), epochs=1, batch_size=4, shuffle=False, progress=False)
    pred = X @ w["0.weight"] + w["0.bias"]
    np.testing.assert_allclose(history.history["loss"][0], np.mean((pred - y) ** 2), rtol=1e-9)


def test_full_batch_and_per_sample(rng):
    X, y = regression(rng, n=8)
    for batch_size in (None, 1, 3, 100):
        history = linear_net().fit(
            X, y, optimizer=pn.optim.SGD(lr=0.01), epochs=2, batch_size=batch_size, progress=False
        )
        assert len(history.history["loss"]) == 2


def test_shuffling_is_seeded(rng):
    X, y = regression(rng)
    runs = [
        linear_net(seed=4)
        .fit(X, y, epochs=3, batch_size=8, optimizer=pn.optim.SGD(lr=0.01), progress=False)
        .history["loss"]
        for _ in range(2)
    ]
    assert runs[0] == runs[1]
    unshuffled = linear_net(seed=4).fit(
        X, y, epochs=3, batch_size=8, shuffle=False, optimizer=pn.optim.SGD(lr=0.01), progress=False
    )
    assert unshuffled.history["loss"] != runs[0]


def test_shuffled_batches_are_the_permutation_in_order(rng, monkeypatch):
    """Each step trains on the next rows of the epoch's permutation, however rows are gathered."""
    X, y = regression(rng, n=23)
    net = linear_net(seed=3)
    seen = []
    monkeypatch.setattr(TrainStep, "plain", lambda step, Xb, yb: seen.append(Xb.copy()) or np.float64(0.0))
    expected_order = _copy_rng(net.shuffle_rng).permutation(23)
    net.fit(X, y, epochs=1, batch_size=5, progress=False)
    assert [len(b) for b in seen] == [5, 5, 5, 5, 3]
    np.testing.assert_array_equal(np.concatenate(seen), X[expected_order])


def _copy_rng(generator):
    copy = np.random.default_rng()
    copy.bit_generator.state = generator.bit_generator.state
    return copy


@pytest.mark.parametrize("chunk_bytes", [1, 3 * 5 * 3 * 8, 2**30])
def test_gathering_by_chunks_changes_nothing(rng, monkeypatch, chunk_bytes):
    """One batch per gather, three, or the whole epoch at once: the same weights, bit for bit."""
    from portnn.train import batches

    X, y = regression(rng, n=37)
    reference = linear_net(seed=2)
    reference.fit(X, y, epochs=3, batch_size=5, optimizer=pn.optim.SGD(lr=0.01), progress=False)
    monkeypatch.setattr(batches, "CHUNK_BYTES", chunk_bytes)
    assert (
        len(batches.chunks([(a, min(a + 5, 37)) for a in range(0, 37, 5)], X.shape[1], chunk_bytes))
        == {
            1: 8,
            360: 3,
            2**30: 1,
        }[chunk_bytes]
    )
    net = linear_net(seed=2)
    net.fit(X, y, epochs=3, batch_size=5, optimizer=pn.optim.SGD(lr=0.01), progress=False)
    for key, value in reference.state_dict().items():
        np.testing.assert_array_equal(net.state_dict()[key], value)


def test_shuffling_makes_no_copy_of_the_training_set(rng):
    import tracemalloc

    X, y = rng.normal(size=(80_000, 50)), rng.normal(size=(80_000, 1))  # 32 MB of X
    net = pn.Sequential(pn.Dense(50, 1), dtype="float64", seed=0)
    tracemalloc.start()
    try:
        net.fit(X, y, epochs=1, batch_size=1000, optimizer=pn.optim.SGD(lr=0.001), progress=False)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < X.nbytes / 4, f"peak {peak} bytes while training on {X.nbytes} bytes of X"


def test_validation_loss(bk, rng):
    X, y = regression(rng)
    history = linear_net(bk, "float32").fit(
        X[:48], y[:48], validation_data=(X[48:], y[48:]), epochs=3, optimizer=pn.optim.SGD(lr=0.05), progress=False
    )
    assert len(history.history["val_loss"]) == 3


def test_classification_with_integer_labels(bk):
    X, labels = pn.datasets.spirals(n_per_class=40)
    net = pn.Sequential(pn.Dense(2, 32), pn.ReLU(), pn.Dense(32, 3), backend=bk, dtype="float32", seed=0)
    history = net.fit(
        X, labels, loss="cross_entropy", optimizer=pn.optim.Adam(lr=0.02), epochs=60, batch_size=40, progress=False
    )
    assert history.history["loss"][-1] < 0.6 * history.history["loss"][0]


def test_early_stopping_stops_and_restores(rng):
    X, y = regression(rng)
    stopper = pn.EarlyStopping(patience=2, restore_best_weights=True)
    net = linear_net()
    # A learning rate this large makes the loss oscillate upward: no improvement after epoch 0.
    history = net.fit(X, y, optimizer=pn.optim.SGD(lr=1.05), epochs=50, callbacks=[stopper], progress=False)
    assert len(history.history["loss"]) == 4 and stopper.stopped_epoch == 3
    best = history.history["loss"][stopper.best_epoch]
    w = net.state_dict()
    assert stopper.best_epoch == 0 and best == min(history.history["loss"])
    assert np.isfinite(w["0.weight"]).all()


def test_progress_bar_writes_to_stderr(rng, monkeypatch):
    X, y = regression(rng, n=8)
    buffer = io.StringIO()
    monkeypatch.setattr("sys.stderr", buffer)
    linear_net().fit(X, y, epochs=3, optimizer=pn.optim.SGD(lr=0.01), progress=True)
    assert "3/3" in buffer.getvalue() and "loss" in buffer.getvalue()


def test_progress_auto_is_off_when_not_a_terminal(rng, monkeypatch):
    X, y = regression(rng, n=8)
    buffer = io.StringIO()
    monkeypatch.setattr("sys.stderr", buffer)
    linear_net().fit(X, y, epochs=3, optimizer=pn.optim.SGD(lr=0.01))
    assert buffer.getvalue() == ""


def test_divergence_stops_with_an_error_and_keeps_finite_weights(bk, rng):
    X, y = regression(rng)
    net = linear_net(bk, "float32")
    with pytest.raises(pn.DivergenceError, match=r"non-finite at epoch \d+, step \d+.*lower learning rate"):
        net.fit(X * 1e3, y, optimizer=pn.optim.SGD(lr=10.0), epochs=200, batch_size=16, progress=False)
    for value in net.state_dict().values():
        assert np.isfinite(pn.to_numpy(value)).all()
    assert np.isfinite(pn.to_numpy(net(X))).all()


class CorruptAt(pn.Callback):
    """Sets a weight to infinity at the end of one epoch: a parameter turned non-finite."""

    def __init__(self, epoch):
        self.epoch = epoch

    def on_epoch_end(self, model, epoch, logs):
        if epoch == self.epoch:
            p = model.layers[0].params["weight"]
            model.layers[0].params["weight"] = model.xp.where(model.xp.abs(p) >= 0, float("inf"), p)


def test_a_non_finite_parameter_restores_the_last_finite_weights(bk, rng):
    X, y = regression(rng)
    net = linear_net(bk, "float32")
    with pytest.raises(pn.DivergenceError, match="became non-finite at epoch 3"):
        net.fit(X, y, optimizer=pn.optim.SGD(lr=0.01), epochs=10, callbacks=[CorruptAt(2)], progress=False)
    assert np.isfinite(pn.to_numpy(net.state_dict()["0.weight"])).all()


def test_a_non_finite_parameter_after_the_last_epoch_is_caught(rng):
    X, y = regression(rng)
    net = linear_net()
    with pytest.raises(pn.DivergenceError, match="a parameter became non-finite"):
        net.fit(X, y, optimizer=pn.optim.SGD(lr=0.01), epochs=3, callbacks=[CorruptAt(2)], progress=False)
    assert np.isfinite(net.state_dict()["0.weight"]).all()


def test_divergence_under_numpy_errstate_raise_is_still_our_error(rng):
    X, y = regression(rng)
    net = linear_net()
    with np.errstate(all="raise"), pytest.raises(pn.DivergenceError):
        net.fit(X * 1e3, y, optimizer=pn.optim.SGD(lr=10.0), epochs=200, progress=False)
