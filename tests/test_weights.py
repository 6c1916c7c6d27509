"""Per-sample weights: every loss is the weighted mean sum_i w_i l_i / sum_i w_i, so weight 2 on a
row trains exactly as the row duplicated; class_weight, checks, batching and evaluate."""

import numpy as np
import pytest

import portnn as pn
from portnn.testing import assert_close
from portnn.train.step import TrainStep

N, F = 12, 3


def dtype_of(bk):
    return "float64" if pn.get_backend(bk).float64 else "float32"


def soft_rows(rng, n, k):
    return rng.dirichlet(np.ones(k), n)


# loss name -> (loss factory, last layers after Dense(5, k), targets for n rows)
CASES = {
    "mse": (pn.MSE, lambda: [pn.Dense(5, 2)], lambda rng, n: rng.normal(size=(n, 2))),
    "bce": (
        pn.BinaryCrossEntropy,
        lambda: [pn.Dense(5, 1), pn.Sigmoid()],
        lambda rng, n: rng.integers(0, 2, (n, 1)).astype(float),
    ),
    "bce_logits": (
        lambda: pn.BinaryCrossEntropy(from_logits=True),
        lambda: [pn.Dense(5, 1)],
        lambda rng, n: rng.integers(0, 2, (n, 1)).astype(float),
    ),
    "cross_entropy": (pn.CrossEntropy, lambda: [pn.Dense(5, 4)], lambda rng, n: rng.integers(0, 4, n)),
    "cross_entropy_probs": (
        lambda: pn.CrossEntropy(from_logits=False),
        lambda: [pn.Dense(5, 4), pn.Softmax()],
        lambda rng, n: np.eye(4)[rng.integers(0, 4, n)],
    ),
    "kl_div": (pn.KLDivergence, lambda: [pn.Dense(5, 4), pn.Softmax()], lambda rng, n: soft_rows(rng, n, 4)),
    "exponential": (
        pn.Exponential,
        lambda: [pn.Dense(5, 1)],
        lambda rng, n: rng.integers(0, 2, (n, 1)).astype(float),
    ),
}


def make_net(bk, name, seed=3):
    return pn.Sequential(pn.Dense(F, 5), pn.Tanh(), *CASES[name][1](), backend=bk, dtype=dtype_of(bk), seed=seed)


def train(bk, name, X, y, **kwargs):
    net = make_net(bk, name)
    history = net.fit(
        X, y, loss=CASES[name][0](), optimizer=pn.optim.SGD(lr=0.3), epochs=3, shuffle=False, progress=False, **kwargs
    )
    return net, history


def assert_same_training(bk, a, b):
    (net_a, hist_a), (net_b, hist_b) = a, b
    dtype = dtype_of(bk)
    assert_close(hist_a.history["loss"], hist_b.history["loss"], dtype, scale=10)
    for key, value in net_a.state_dict().items():
        assert_close(value, net_b.state_dict()[key], dtype, scale=10, err_msg=key)


@pytest.mark.parametrize("name", list(CASES))
def test_weight_two_equals_the_row_duplicated(bk, rng, name):
    """Full batch, no shuffling: the same losses and the same weights after training."""
    X, y = rng.normal(size=(N, F)), CASES[name][2](rng, N)
    weight = np.ones(N)
    weight[4] = 2.0
    duplicated = np.r_[np.arange(N), 4]
    assert_same_training(bk, train(bk, name, X, y, sample_weight=weight), train(bk, name, X[duplicated], y[duplicated]))


@pytest.mark.parametrize("name", list(CASES))
def test_whole_number_weights_equal_repeated_rows(bk, rng, name):
    """Weight 0 drops a row, weight 3 counts it three times."""
    X, y = rng.normal(size=(N, F)), CASES[name][2](rng, N)
    counts = rng.integers(0, 4, N)
    counts[0] = 1
    repeated = np.repeat(np.arange(N), counts)
    assert_same_training(bk, train(bk, name, X, y, sample_weight=counts), train(bk, name, X[repeated], y[repeated]))


@pytest.mark.parametrize("name", list(CASES))
def test_value_and_grad_with_weights_equals_repeated_rows(bk, rng, name):
    X, y = rng.normal(size=(N, F)), CASES[name][2](rng, N)
    counts = rng.integers(1, 4, N)
    repeated = np.repeat(np.arange(N), counts)
    net = make_net(bk, name)
    weighted = pn.value_and_grad(net, CASES[name][0](), X, y, sample_weight=counts)
    plain = pn.value_and_grad(net, CASES[name][0](), X[repeated], y[repeated])
    assert_close(weighted[0], plain[0], dtype_of(bk), scale=10)
    for key, grad in plain[1].items():
        assert_close(weighted[1][key], grad, dtype_of(bk), scale=10, err_msg=key)


def test_weights_of_one_change_nothing(bk, rng):
    X, y = rng.normal(size=(N, F)), rng.normal(size=(N, 2))
    assert_same_training(bk, train(bk, "mse", X, y, sample_weight=np.ones(N)), train(bk, "mse", X, y))


def test_class_weight_is_a_weight_per_row_by_label(bk, rng):
    X, labels = rng.normal(size=(N, F)), rng.integers(0, 4, N)
    table = {0: 2.0, 3: 0.5}
    by_hand = np.array([table.get(int(c), 1.0) for c in labels])
    expected = train(bk, "cross_entropy", X, labels, sample_weight=by_hand)
    assert_same_training(bk, train(bk, "cross_entropy", X, labels, class_weight=table), expected)
    one_hot = np.eye(4)[labels]
    assert_same_training(bk, train(bk, "cross_entropy", X, one_hot, class_weight=table), expected)


def test_class_weight_for_binary_targets_times_sample_weight(rng):
    X, y = rng.normal(size=(N, F)), rng.integers(0, 2, (N, 1)).astype(float)
    sample = rng.uniform(0.5, 2.0, N)
    by_hand = sample * np.where(y[:, 0] == 1, 3.0, 1.0)
    expected = train("numpy", "bce", X, y, sample_weight=by_hand)
    assert_same_training(
        pn.get_backend("numpy"), train("numpy", "bce", X, y, sample_weight=sample, class_weight={1: 3.0}), expected
    )


def test_losses_match_sklearn_with_sample_weight(rng):
    metrics = pytest.importorskip("sklearn.metrics")
    w = rng.uniform(0.0, 3.0, 20)
    p = rng.uniform(0.05, 0.95, (20, 1))
    t = rng.integers(0, 2, (20, 1)).astype(float)
    expected = metrics.log_loss(t[:, 0], p[:, 0], sample_weight=w)
    np.testing.assert_allclose(float(pn.BinaryCrossEntropy()(p, t, w)), expected, rtol=1e-12)
    z = rng.normal(size=(20, 4))
    labels = rng.integers(0, 4, 20)
    probs = np.exp(z) / np.exp(z).sum(axis=1, keepdims=True)
    expected = metrics.log_loss(labels, probs, sample_weight=w, labels=range(4))
    np.testing.assert_allclose(float(pn.CrossEntropy()(z, labels, w)), expected, rtol=1e-12)
    a, b = rng.normal(size=(20, 3)), rng.normal(size=(20, 3))
    np.testing.assert_allclose(float(pn.MSE()(a, b, w)), metrics.mean_squared_error(b, a, sample_weight=w), rtol=1e-12)


def test_weights_travel_with_their_rows_when_shuffled(rng, monkeypatch):
    X, y = rng.normal(size=(23, F)), rng.normal(size=(23, 2))
    weight = np.arange(1.0, 24.0)  # row i weighs i + 1: each batch's weights name its rows
    seen = []

    def record(step, Xb, yb, wb=None):
        seen.append((Xb.copy(), wb.copy()))
        return np.float64(1.0)

    monkeypatch.setattr(TrainStep, "plain", record)
    make_net("numpy", "mse").fit(X, y, epochs=2, batch_size=5, sample_weight=weight, progress=False)
    assert len(seen) == 10
    for Xb, wb in seen:
        np.testing.assert_array_equal(Xb, X[wb.astype(int) - 1])


def test_epoch_loss_is_the_weighted_mean_over_rows(rng):
    X, y = rng.normal(size=(N, F)), rng.normal(size=(N, 2))
    weight = rng.uniform(0.0, 2.0, N)
    net = pn.Sequential(pn.Dense(F, 2), dtype="float64", seed=0)
    w = net.state_dict()
    history = net.fit(X, y, optimizer=pn.optim.SGD(lr=1e-12), batch_size=5, sample_weight=weight, progress=False)
    per_row = np.mean((X @ w["0.weight"] + w["0.bias"] - y) ** 2, axis=1)
    np.testing.assert_allclose(history.history["loss"][0], np.average(per_row, weights=weight), rtol=1e-9)


def test_a_batch_of_zero_weights_counts_for_nothing(rng):
    X, y = rng.normal(size=(8, F)), rng.normal(size=(8, 2))
    weight = np.array([1.0, 2.0, 1.0, 1.0, 0.0, 0.0, 0.0, 0.0])
    net = pn.Sequential(pn.Dense(F, 2), dtype="float64", seed=0)
    history = net.fit(X, y, epochs=2, batch_size=4, shuffle=False, sample_weight=weight, progress=False)
    assert np.isfinite(history.history["loss"]).all()


def test_evaluate_with_sample_weight_is_the_weighted_mean(bk, rng):
    X, labels = rng.normal(size=(N, F)), rng.integers(0, 4, N)
    weight = rng.uniform(0.0, 2.0, N)
    net = make_net(bk, "cross_entropy")
    z = pn.to_numpy(net.predict(X)).astype(np.float64)
    log_p = z - z.max(axis=1, keepdims=True)
    log_p -= np.log(np.exp(log_p).sum(axis=1, keepdims=True))
    loss = -log_p[np.arange(N), labels]
    hits = (z.argmax(axis=1) == labels).astype(float)
    got = net.evaluate(X, labels, loss="cross_entropy", metrics=["accuracy"], batch_size=5, sample_weight=weight)
    assert_close(got["loss"], np.average(loss, weights=weight), dtype_of(bk), scale=10)
    assert_close(got["accuracy"], np.average(hits, weights=weight), dtype_of(bk), scale=10)


def test_validation_weights(rng):
    X, y = rng.normal(size=(N, F)), rng.normal(size=(N, 2))
    weight = rng.uniform(0.0, 2.0, 6)
    net = pn.Sequential(pn.Dense(F, 2), dtype="float64", seed=0)
    history = net.fit(X, y, validation_data=(X[:6], y[:6], weight), progress=False)
    expected = net.evaluate(X[:6], y[:6], sample_weight=weight)["loss"]
    assert history.history["val_loss"] == [expected]


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"sample_weight": np.r_[np.ones(N - 1), -1.0]}, ValueError, r"sample_weight: .*>= 0; row 11 has -1"),
        ({"sample_weight": np.r_[np.nan, np.ones(N - 1)]}, ValueError, r"sample_weight: .*finite.*row 0 has nan"),
        ({"sample_weight": np.r_[np.inf, np.ones(N - 1)]}, ValueError, r"sample_weight: .*finite.*row 0 has inf"),
        ({"sample_weight": np.zeros(N)}, ValueError, r"sample_weight: all weights are zero"),
        ({"sample_weight": np.ones(N - 1)}, ValueError, rf"sample_weight: expected one weight per row, shape \({N},\)"),
        ({"sample_weight": np.ones((N, 1))}, ValueError, r"sample_weight: expected one weight per row"),
        ({"sample_weight": "heavy"}, TypeError, r"sample_weight: expected an array of numbers"),
        ({"class_weight": {7: 2.0}}, ValueError, r"class_weight: label 7 is not a class"),
        ({"class_weight": {0: -2.0}}, ValueError, r"class_weight: .*>= 0; class 0 has -2"),
        ({"class_weight": {0: 0.0, 1: 0.0, 2: 0.0, 3: 0.0}}, ValueError, r"class_weight: all weights are zero"),
        ({"class_weight": [1.0, 2.0]}, TypeError, r"class_weight: expected a dict"),
        ({"validation_data": (np.ones((2, F)), [0, 1], [1.0, -1.0])}, ValueError, r"validation_data\[2\]: .*>= 0"),
    ],
)
def test_bad_weights_are_named(rng, kwargs, error, match):
    X, labels = rng.normal(size=(N, F)), rng.integers(0, 4, N)
    net = make_net("numpy", "cross_entropy")
    before = net.state_dict()
    with pytest.raises(error, match=match):
        net.fit(X, labels, loss="cross_entropy", progress=False, **kwargs)
    for key, value in before.items():  # refused before any step
        np.testing.assert_array_equal(net.state_dict()[key], value)


def test_class_weight_needs_class_labels(rng):
    X, y = rng.normal(size=(N, F)), rng.normal(size=(N, 2))
    with pytest.raises(ValueError, match="class_weight: the targets are not class labels"):
        make_net("numpy", "mse").fit(X, y, class_weight={0: 2.0}, progress=False)


def test_a_loss_without_weights_is_refused_only_with_weights(rng):
    class Plain(pn.Loss):  # written before weights existed
        def value_and_grad(self, xp, pred, target):
            return pn.MSE().value_and_grad(xp, pred, target)

    X, y = rng.normal(size=(N, F)), rng.normal(size=(N, 2))
    make_net("numpy", "mse").fit(X, y, loss=Plain(), progress=False)
    with pytest.raises(TypeError, match=r"takes no weight.*add a `weight=None` argument"):
        make_net("numpy", "mse").fit(X, y, loss=Plain(), sample_weight=np.ones(N), progress=False)


def test_compiled_and_op_by_op_weighted_training_agree(rng):
    if pn.testing.backend_skip_reason("jax:cpu"):
        pytest.skip("jax:cpu unavailable")
    X, labels = rng.normal(size=(23, F)), rng.integers(0, 4, 23)
    weight = rng.uniform(0.0, 2.0, 23)
    runs = []
    for compile in (True, False):
        net = make_net("jax:cpu", "cross_entropy")
        history = net.fit(
            X, labels, loss="cross_entropy", optimizer=pn.optim.Adam(lr=0.01), epochs=3, batch_size=5,
            sample_weight=weight, compile=compile, progress=False,
        )  # fmt: skip
        assert (net.train_step.compiled is not None) == compile
        runs.append((net, history))
    assert_same_training(pn.get_backend("jax:cpu"), *runs)
