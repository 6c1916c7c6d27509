"""The core parts the scikit-learn estimators are built from, each on its own: ``Sigmoid(exact=True)``,
``LinkLoss``, the ``L2Penalty`` gradient hook, ``Backend.ordered_sums`` and ``Optimizer.release``.
Finite-difference gradients in float64 on every backend with float64, values against a float64
NumPy reference (scikit-learn's own functions) everywhere, and scikit-learn's bits on NumPy."""

import numpy as np
import pytest

pytest.importorskip("scipy", reason="the reference functions are SciPy's and scikit-learn's")
pytest.importorskip("sklearn", reason="the reference functions are SciPy's and scikit-learn's")
from scipy.special import expit
from sklearn.neural_network import _base as sk

import portnn as pn
from portnn.objectives.linkloss import LinkLoss
from portnn.objectives.penalty import L2Penalty
from portnn.testing import assert_close, numeric_grad

CASES = [  # (link, kind, scikit-learn's output function, scikit-learn's loss, n_outputs)
    ("identity", "squared_error", "identity", "squared_error", 1),
    ("exp", "poisson", "exp", "poisson", 2),
    ("logistic", "log_loss", "logistic", "binary_log_loss", 3),
    ("softmax", "log_loss", "softmax", "log_loss", 3),
]


def targets(rng, kind, shape):
    if kind == "log_loss":
        return np.eye(shape[1])[rng.integers(0, shape[1], shape[0])]
    return rng.uniform(0.0, 2.0, shape)


def sk_output(name, z):
    out = z.copy()
    sk.ACTIVATIONS[name](out)
    return out


def test_sigmoid_exact_gradient_float64(bk64, rng):
    net = pn.Sequential(pn.Sigmoid(exact=True), backend=bk64, dtype="float64")
    X, R = rng.normal(0, 3, (4, 5)), rng.normal(size=(4, 5))
    _, backprops = net.forward(bk64.asarray(X, net.dtype), True)
    dX = pn.to_numpy(backprops[0](bk64.asarray(R, net.dtype)))
    numeric = numeric_grad(lambda x: float(np.sum(pn.to_numpy(net(x)) * R)), X)
    np.testing.assert_allclose(dX, numeric, rtol=1e-6, atol=1e-8)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_sigmoid_exact_matches_reference(bk, rng, dtype):
    if dtype == "float64" and not bk.float64:
        pytest.skip(f"{bk.spec} has no float64")
    X = rng.normal(0, 5, (50, 7))
    out = pn.Sequential(pn.Sigmoid(exact=True), backend=bk, dtype=dtype)(X)
    assert_close(out, 1 / (1 + np.exp(-X.astype(dtype).astype(np.float64))), dtype)


def test_sigmoid_exact_is_scikit_learns_on_numpy(rng):
    """expit forward and (dY * Y) * (1 - Y) backward, to the bit (the default form differs)."""
    X, dY = rng.normal(0, 5, (400, 7)), rng.normal(size=(400, 7))
    Y, backprops = pn.Sequential(pn.Sigmoid(exact=True), backend="numpy", dtype="float64").forward(X, True)
    delta = dY.copy()
    sk.DERIVATIVES["logistic"](expit(X), delta)
    np.testing.assert_array_equal(Y, expit(X))
    np.testing.assert_array_equal(backprops[0](dY), delta)
    assert pn.Sigmoid(exact=True).get_config() == {"exact": True} and pn.Sigmoid().get_config() == {}
    with pytest.raises(TypeError, match="exact"):
        pn.Sigmoid(exact=1)


@pytest.mark.parametrize("case", CASES, ids=[c[1] + "-" + c[0] for c in CASES])
def test_link_loss_gradient_float64(bk64, rng, case):
    """The gradient is the value's, summed over rows (times the outputs for squared error)."""
    link, kind, _, _, k = case
    loss = LinkLoss(link, kind)
    z, y, w = rng.normal(size=(6, k)), targets(rng, kind, (6, k)), rng.uniform(0.5, 2.0, 6)
    f64 = bk64.dtype("float64")
    for weight, total in ((None, 6.0), (w, w.sum())):
        wd = None if weight is None else bk64.asarray(weight, f64)

        def value(zz, wd=wd):
            return float(loss.value_and_grad(bk64.xp, bk64.asarray(zz, f64), bk64.asarray(y, f64), wd)[0])

        grad = loss.value_and_grad(bk64.xp, bk64.asarray(z, f64), bk64.asarray(y, f64), wd)[1]
        scale = total * (k if kind == "squared_error" else 1)
        np.testing.assert_allclose(pn.to_numpy(grad), scale * numeric_grad(value, z), rtol=1e-6, atol=1e-8)


@pytest.mark.parametrize("case", CASES, ids=[c[1] + "-" + c[0] for c in CASES])
def test_link_loss_matches_scikit_learn(bk, rng, case):
    link, kind, sk_link, sk_loss, k = case
    dtype = "float64" if bk.float64 else "float32"
    z, y, w = rng.normal(size=(20, k)), targets(rng, kind, (20, k)), rng.uniform(0.5, 2.0, 20)
    z, y, w = (a.astype(dtype) for a in (z, y, w))
    loss = LinkLoss(link, kind)
    for weight in (None, w):
        p = sk_output(sk_link, z)
        want_value, want_delta = sk.LOSS_FUNCTIONS[sk_loss](y, p, weight), p - y
        if weight is not None:
            want_delta = want_delta * weight.reshape(-1, 1)
        wd = None if weight is None else bk.asarray(weight, bk.dtype(dtype))
        value, delta = loss.value_and_grad(bk.xp, bk.asarray(z, bk.dtype(dtype)), bk.asarray(y, bk.dtype(dtype)), wd)
        assert_close(value, want_value, dtype)
        assert_close(delta, want_delta, dtype)
        assert_close(loss.output(bk.xp, bk.asarray(z, bk.dtype(dtype))), p, dtype)
        if bk.arrays_are_numpy and dtype == "float64":  # scikit-learn's bits
            assert float(value) == float(want_value)
            np.testing.assert_array_equal(delta, want_delta)


def test_link_loss_refuses_unknown_names():
    with pytest.raises(ValueError, match="link"):
        LinkLoss("sigmoid", "log_loss")
    with pytest.raises(ValueError, match="kind"):
        LinkLoss("identity", "mse")


def net_with_grads(bk, rng):
    net = pn.Sequential(pn.Dense(3, 4), pn.Dense(4, 2), backend=bk, dtype="float64", seed=0)
    for p in net.parameters():
        p.value = bk.asarray(rng.normal(size=tuple(p.value.shape)), net.dtype)
        p.grad = bk.asarray(rng.normal(size=tuple(p.value.shape)), net.dtype)
    return net


@pytest.mark.parametrize("in_place", [False, True])
def test_l2_penalty_is_scikit_learns(bk64, rng, in_place):
    """(g + alpha W) / n on weights, g / n on biases, 0.5 alpha sum ||W||^2 / n; bits on NumPy;
    in place (given the backend) where arrays are writeable."""
    net = net_with_grads(bk64, rng)
    host = {p.name: (pn.to_numpy(p.value), pn.to_numpy(p.grad)) for p in net.parameters()}
    buffers = [p.grad for p in net.parameters()]
    penalty = L2Penalty(alpha=0.3, backend=bk64 if in_place else None)
    penalty.watch(net.parameters())
    value = penalty.added_to(bk64.asarray(1.0, net.dtype), 7)
    penalty(net.parameters())
    squares = 0
    for name, (w, _) in host.items():
        if name.endswith("weight"):
            squares += np.dot(w.ravel(), w.ravel())
    assert_close(value, 1.0 + (0.5 * 0.3) * squares / 7)
    for p in net.parameters():
        w, g = host[p.name]
        want = (g + 0.3 * w) / 7 if p.name.endswith("weight") else g / 7
        assert_close(p.grad, want)
        if bk64.arrays_are_numpy:
            np.testing.assert_array_equal(p.grad, want)
    same = [a is p.grad for a, p in zip(buffers, net.parameters())]
    assert all(same) if in_place and bk64.writeable else not any(same)


def test_l2_penalty_gradient_float64(bk64, rng):
    """LinkLoss with the penalty, then the hook: the value's gradient (finite differences)."""
    net = pn.Sequential(pn.Dense(3, 1), backend=bk64, dtype="float64", seed=0)
    X, y = rng.normal(size=(5, 3)), rng.normal(size=(5, 1))
    penalty = L2Penalty(alpha=0.7)
    penalty.watch(net.parameters())
    loss = LinkLoss("identity", "squared_error", penalty=penalty)
    value, _ = pn.value_and_grad(net, loss, X, y)
    penalty(net.parameters())
    w = net.parameters()[0]
    host_w = pn.to_numpy(w.value)

    def total(q):
        w.value = bk64.asarray(q, net.dtype)
        pred = pn.to_numpy(net(X))
        return float(0.5 * np.mean((pred - y) ** 2) + 0.5 * 0.7 * np.sum(q * q) / 5)

    assert_close(value, total(host_w))
    np.testing.assert_allclose(pn.to_numpy(w.grad), numeric_grad(total, host_w), rtol=1e-6, atol=1e-8)


def test_l2_penalty_step_compiles_and_matches_eager(bk, rng):
    """A TrainStep with the (traceable) hook runs compiled where the backend compiles, with the
    eager step's numbers."""
    X, y = rng.normal(size=(8, 3)), rng.normal(size=(8, 2))
    results = {}
    for compile in (False, True):
        net = pn.Sequential(pn.Dense(3, 4, activation="tanh"), pn.Dense(4, 2), backend=bk, dtype="float32", seed=0)
        penalty = L2Penalty(alpha=0.1, backend=net.backend)
        penalty.watch(net.parameters())
        loss = LinkLoss("identity", "squared_error", penalty=penalty, backend=net.backend)
        step = pn.train.step.TrainStep(net, loss, pn.optim.Adam(lr=0.01), grad_hook=penalty, compile=compile)
        assert (step.compiled is not None) == (compile and bk.compiles)
        Xd, yd = net.check_features(X), bk.asarray(y, net.dtype)
        values = [float(step.run(Xd, yd)) for _ in range(3)]
        results[compile] = values, {k: pn.to_numpy(v) for k, v in net.state_dict().items()}
    np.testing.assert_allclose(results[True][0], results[False][0], rtol=1e-5)
    for key, value in results[False][1].items():
        np.testing.assert_allclose(results[True][1][key], value, rtol=1e-5, atol=1e-6)


def test_l2_penalty_refuses_bad_alpha_and_missing_weights():
    with pytest.raises(ValueError, match="alpha"):
        L2Penalty(alpha=-1.0)
    net = pn.Sequential(pn.ReLU(), backend="numpy")
    with pytest.raises(ValueError, match="weight"):
        L2Penalty(alpha=1.0).watch(net.parameters())


def test_ordered_sums_sum_rows_in_order(bk, rng):
    """Dense's bias gradient on the ordered twin is xp.sum(dY, axis=0), to the bit."""
    dtype = "float64" if bk.float64 else "float32"
    ordered = bk.ordered_sums()
    assert ordered.spec == bk.spec
    net = pn.Sequential(pn.Dense(3, 5), backend=ordered, dtype=dtype, seed=0)
    X, dY = rng.normal(size=(300, 3)), rng.normal(size=(300, 5))
    _, backprops = net.forward(ordered.asarray(X, net.dtype), True)
    dY_dev = ordered.asarray(dY, net.dtype)
    backprops[0](dY_dev, input_grad=False)
    np.testing.assert_array_equal(pn.to_numpy(net.parameters()[1].grad), pn.to_numpy(ordered.xp.sum(dY_dev, axis=0)))


def test_release_keeps_state_on_a_new_network(rng):
    def fresh():
        return pn.Sequential(pn.Dense(2, 1), backend="numpy", dtype="float64", seed=0)

    X, y = rng.normal(size=(4, 2)), rng.normal(size=(4, 1))
    opt = pn.optim.Adam(lr=0.1)
    first = fresh()
    pn.train.step.TrainStep(first, "mse", opt)(first.check_features(X), y)
    kept = {k: {n: v.copy() for n, v in e.items()} for k, e in opt.state.items()}
    opt.release()
    second, third = fresh(), fresh()  # both alive: their ids differ
    pn.train.step.TrainStep(second, "mse", opt)
    for key, entries in kept.items():
        for name, value in entries.items():
            np.testing.assert_array_equal(opt.state[key][name], value)
    pn.train.step.TrainStep(third, "mse", opt)  # another network, not released: a fresh start
    assert all(not np.any(v) for e in opt.state.values() for v in e.values())
