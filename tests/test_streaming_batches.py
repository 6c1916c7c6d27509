"""Iterables of batches (issue 24, part 3): fit(data) with y left out trains a step per batch,
converted to the model's backend, with the weights of the in-memory fit over the same batches."""

import numpy as np
import pytest

import portnn as pn

N, D, K, B = 100, 4, 3, 16


@pytest.fixture
def data():
    rng = np.random.default_rng(5)
    return rng.normal(size=(N, D)).astype(np.float32), rng.integers(0, K, N), rng.uniform(0.5, 2.0, N)


def _net(spec="numpy"):
    return pn.Sequential(pn.Dense(D, 6), pn.Tanh(), pn.Dropout(0.2), pn.Dense(6, K), backend=spec, seed=3)


KW = dict(loss="cross_entropy", optimizer="adam", metrics=["accuracy"], progress=False)


def _weights(net):
    return {k: pn.to_numpy(v) for k, v in net.state_dict().items()}


def _assert_same(a, b):
    for key in a:
        np.testing.assert_array_equal(a[key], b[key], err_msg=key)


class Restarting:
    """An object whose __iter__ starts over, counting how often."""

    def __init__(self, batches):
        self.batches, self.starts = batches, 0

    def __iter__(self):
        self.starts += 1
        return iter(self.batches)


def test_dataloader_gives_the_in_memory_weights(spec, data):
    torch = pytest.importorskip("torch")
    from torch.utils.data import DataLoader, TensorDataset

    X, y, _ = data
    memory, loader = _net(spec), _net(spec)
    h1 = memory.fit(X, y, batch_size=B, shuffle=False, epochs=3, validation_data=(X[:30], y[:30]), **KW)
    batches = DataLoader(TensorDataset(torch.from_numpy(X), torch.from_numpy(y)), batch_size=B, shuffle=False)
    h2 = loader.fit(batches, epochs=3, validation_data=(X[:30], y[:30]), **KW)
    _assert_same(_weights(memory), _weights(loader))
    assert h1.history == h2.history


def test_weighted_batches_and_batch_validation(spec, data):
    X, y, w = data
    memory, listed = _net(spec), _net(spec)
    memory.fit(X, y, sample_weight=w, batch_size=B, shuffle=False, epochs=2, **KW)
    triples = Restarting([(X[i : i + B], y[i : i + B], w[i : i + B]) for i in range(0, N, B)])
    validation = [(X[:20], y[:20]), (X[20:30], y[20:30])]
    h = listed.fit(triples, epochs=2, validation_data=validation, **KW)
    _assert_same(_weights(memory), _weights(listed))
    assert triples.starts == 2
    assert h.history["val_loss"][-1] == listed.evaluate(validation)["loss"]
    np.testing.assert_allclose(listed.evaluate(validation)["loss"], listed.evaluate(X[:30], y[:30])["loss"], rtol=1e-6)


def test_steps_per_epoch_goes_on_across_epochs_and_starts_over(data):
    X, y, _ = data
    b = [(X[i : i + B], y[i : i + B]) for i in range(0, 4 * B, B)]
    stepped, flat = _net(), _net()
    stepped.fit(b, epochs=2, steps_per_epoch=3, **KW)
    flat.fit([b[0], b[1], b[2], b[3], b[0], b[1]], epochs=1, **KW)
    _assert_same(_weights(stepped), _weights(flat))


def test_a_generator_gives_one_epoch_unless_steps_are_set(data):
    X, y, _ = data
    net = _net()
    before = _weights(net)
    gen = ((X[i : i + B], y[i : i + B]) for i in range(0, N, B))
    with pytest.raises(ValueError, match=r"one-shot iterator .* epochs=2"):
        net.fit(gen, epochs=2, **KW)
    _assert_same(before, _weights(net))  # refused before any step
    net.fit(gen, epochs=1, **KW)  # the same generator, untouched, one epoch
    gen = ((X[i : i + B], y[i : i + B]) for i in range(0, N, B))
    net.fit(gen, epochs=7, steps_per_epoch=1, **KW)
    with pytest.raises(ValueError, match="ran out of batches"):
        net.fit(gen, epochs=1, steps_per_epoch=2, **KW)


def test_clear_errors(data):
    X, y, w = data
    net = _net()
    with pytest.raises(TypeError, match=r"X: expected batches \(X, y\)"):
        net.fit([X[:10]], **KW)
    with pytest.raises(TypeError, match="steps_per_epoch"):
        net.fit(X, y, steps_per_epoch=2, **KW)
    with pytest.raises(TypeError, match="y: expected targets"):
        net.fit(X, **KW)
    with pytest.raises(TypeError, match="sample_weight"):
        net.fit([(X, y)], sample_weight=w, **KW)
    with pytest.raises(ValueError, match="gave no batches"):
        net.fit([], **KW)
