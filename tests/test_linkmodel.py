"""LinkModel (portnn.train.linkmodel) and portnn.alerts, each on its own: a Dense network built from
given arrays, its flat packing (weights, then biases), its loss and flat gradient (finite
differences in float64), its epochs against step-by-step training; warnings under the module name
that the filters single out."""

import itertools
import warnings

import numpy as np
import pytest

import portnn as pn
from portnn import alerts
from portnn.objectives.weights import RowWeights
from portnn.testing import assert_close, numeric_grad
from portnn.train.batches import TrainingData
from portnn.train.linkmodel import LinkModel

ACTIVATIONS = {  # LinkModel's name: the hidden function on the host
    "relu": lambda z: np.maximum(z, 0),
    "tanh": np.tanh,
    "logistic": lambda z: 1 / (1 + np.exp(-z)),
    "identity": lambda z: z,
}
LINKS = {
    "identity": lambda z: z,
    "exp": np.exp,
    "logistic": lambda z: 1 / (1 + np.exp(-z)),
    "softmax": lambda z: np.exp(z) / np.exp(z).sum(axis=1, keepdims=True),
}


def arrays(rng, units):
    weights = [rng.normal(0, 0.5, (a, b)) for a, b in itertools.pairwise(units)]
    return weights, [rng.normal(0, 0.5, b) for b in units[1:]]


def reference(X, weights, biases, activation, link):
    for i, (w, b) in enumerate(zip(weights, biases)):
        X = X @ w + b
        if i < len(weights) - 1:
            X = ACTIVATIONS[activation](X)
    return LINKS[link](X)


@pytest.mark.parametrize("activation", list(ACTIVATIONS))
@pytest.mark.parametrize("link", list(LINKS))
def test_predicts_the_given_arrays(bk, rng, activation, link):
    dtype = "float64" if bk.float64 else "float32"
    weights, biases = arrays(rng, [3, 5, 4, 2])
    X = rng.normal(size=(7, 3))
    model = LinkModel(bk, dtype, weights, biases, activation, link)
    assert_close(model.predict(X), reference(X, weights, biases, activation, link), dtype)
    got_w, got_b = model.arrays()
    for got, want in zip(got_w + got_b, weights + biases):
        assert_close(got, want, dtype)


def test_flat_is_weights_then_biases(bk, rng):
    dtype = "float64" if bk.float64 else "float32"
    weights, biases = arrays(rng, [3, 4, 2])
    model = LinkModel(bk, dtype, weights, biases)
    want = np.concatenate([a.ravel() for a in weights + biases])
    assert_close(model.flat(), want, dtype)
    model.assign_flat(np.arange(want.size, dtype=np.float64))
    w, b = model.arrays()
    np.testing.assert_array_equal(pn.to_numpy(w[1]), np.arange(12, 20).reshape(4, 2))
    np.testing.assert_array_equal(pn.to_numpy(b[0]), np.arange(20, 24))
    copies = model.arrays(copy=True)[0]
    model.assign_flat(np.zeros(want.size))
    assert float(np.abs(pn.to_numpy(copies[0])).sum()) > 0


@pytest.mark.parametrize("weighted", [False, True])
def test_flat_grad_is_the_losss_gradient_float64(bk64, rng, weighted):
    weights, biases = arrays(rng, [3, 4, 2])
    X, y = rng.normal(size=(6, 3)), rng.uniform(0.1, 2.0, (6, 2))
    sw = rng.uniform(0.5, 2.0, 6) if weighted else None
    model = LinkModel(bk64, "float64", weights, biases, "tanh", "exp", "poisson", alpha=0.3)
    dev = [None if a is None else bk64.asarray(a, model.net.dtype) for a in (X, y, sw)]
    x0 = pn.to_numpy(model.flat())

    def value(v):
        model.assign_flat(v)
        return float(model.loss_and_flat_grad(*dev)[0])

    model.assign_flat(x0)
    loss, grad = model.loss_and_flat_grad(*dev)
    assert grad.shape == x0.shape
    assert_close(loss, value(x0))
    np.testing.assert_allclose(pn.to_numpy(grad), numeric_grad(value, x0), rtol=1e-6, atol=1e-8)


@pytest.mark.parametrize("shuffled", [False, True])
@pytest.mark.parametrize("weighted", [False, True])
def test_epoch_is_its_steps_in_order(bk, rng, shuffled, weighted):
    """An epoch is a step per batch of the rows in order; its loss is scikit-learn's, the batch
    losses times their rows, summed, over the row count."""
    dtype = "float64" if bk.float64 else "float32"
    weights, biases = arrays(rng, [3, 4, 1])
    X, y, sw = rng.normal(size=(10, 3)), rng.normal(size=(10, 1)), rng.uniform(0.5, 2.0, 10)
    order = rng.permutation(10) if shuffled else np.arange(10)
    epoch_model, step_model = (LinkModel(bk, dtype, weights, biases, alpha=0.1) for _ in range(2))
    Xd, yd, swd = (bk.asarray(a, epoch_model.net.dtype) for a in (X, y, sw))
    rows = RowWeights(sw, swd) if weighted else None
    epoch_model.train(pn.optim.SGD(lr=0.05, momentum=0.9))
    loss = epoch_model.epoch(TrainingData(Xd, yd, rows, 4, shuffled), bk.asarray(order) if shuffled else None)
    step = step_model.train(pn.optim.SGD(lr=0.05, momentum=0.9))
    total = 0.0
    for a, b in ((0, 4), (4, 8), (8, 10)):
        idx = bk.asarray(order[a:b])
        Xb, yb = bk.xp.take(Xd, idx, axis=0), bk.xp.take(yd, idx, axis=0)
        value = step.run(Xb, yb, bk.xp.take(swd, idx, axis=0)) if weighted else step.run(Xb, yb)
        total += float(value) * (b - a)
    assert_close(loss, total / 10, dtype)
    assert_close(epoch_model.flat(), pn.to_numpy(step_model.flat()), dtype)


def test_all_finite(bk):
    model = LinkModel(bk, "float32", [np.ones((2, 1))], [np.zeros(1)])
    assert model.all_finite()
    model.assign_flat(np.array([1.0, np.nan, 0.0]))
    assert not model.all_finite()


def test_logistic_and_identity_are_scikit_learns_names():
    model = LinkModel("numpy", "float64", [np.ones((2, 2)), np.ones((2, 1))], [np.zeros(2), np.zeros(1)], "logistic")
    assert isinstance(model.net.layers[0].activation, pn.Sigmoid)
    plain = LinkModel("numpy", "float64", [np.ones((2, 2)), np.ones((2, 1))], [np.zeros(2), np.zeros(1)], "identity")
    assert plain.net.layers[0].activation is None


@pytest.mark.parametrize("module", ["mine", "theirs", None])
def test_alerts_warn_under_the_module_a_filter_names(module):
    names = ("mine.sub", "theirs.mlp")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        if module is not None:
            warnings.filterwarnings("error", module=module)
        if module is None:
            alerts.warn("hello", UserWarning, names)
        else:
            with pytest.raises(UserWarning, match="hello"):
                alerts.warn("hello", UserWarning, names)
    if module is None:
        assert [str(w.message) for w in caught] == ["hello"] and caught[0].filename == __file__
    assert alerts.module_name("hello", UserWarning, 1, names) == "mine.sub"
