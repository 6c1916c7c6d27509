"""scikit-learn's (and Keras's) update rules as core options: ``SGD(velocity_form=True)`` and
``Adam(eps_hat=True)``, against their formulas written in float64 NumPy in scikit-learn's order,
and against scikit-learn's own optimizers where it is installed."""

import numpy as np
import pytest

import portnn as pn
from portnn.nn.parameter import Parameter
from portnn.testing import assert_close


def sklearn_sgd_reference(p, grads, lrs, momentum, nesterov):
    """scikit-learn's SGDOptimizer._get_updates: ``v = mu v - lr g``; Nesterov ``u = mu v - lr g``."""
    p, v = p.copy(), np.zeros_like(p)
    for g, lr in zip(grads, lrs):
        v = momentum * v - lr * g
        update = momentum * v - lr * g if nesterov else v
        p += update
    return p


def sklearn_adam_reference(p, grads, lr, b1, b2, eps):
    """scikit-learn's AdamOptimizer._get_updates: epsilon outside the bias correction."""
    p, m, v = p.copy(), np.zeros_like(p), np.zeros_like(p)
    for t, g in enumerate(grads, start=1):
        m = b1 * m + (1 - b1) * g
        v = b2 * v + (1 - b2) * g**2
        lr_t = lr * np.sqrt(1 - b2**t) / (1 - b1**t)
        p += -lr_t * m / (np.sqrt(v) + eps)
    return p


def run(bk, optimizer, p, grads, lrs=None, dtype="float64"):
    """``optimizer`` stepped on one parameter with ``grads``, setting ``optimizer.lr`` to each of
    ``lrs`` before its step; also returns the gradients as they were after each step."""
    xdtype = bk.dtype(dtype)
    store, grad_store = {"w": bk.asarray(p.copy(), xdtype)}, {"w": None}
    grad_store["w"] = bk.xp.zeros_like(store["w"])
    optimizer.bind([Parameter("0.w", store, grad_store, "w")], bk)
    after = []
    for i, g in enumerate(grads):
        if lrs is not None:
            optimizer.lr = lrs[i]
        grad_store["w"] = bk.asarray(g.copy(), xdtype)
        optimizer.step()
        after.append(pn.to_numpy(grad_store["w"]))
    return pn.to_numpy(store["w"]), after


def data(rng, steps=5):
    return rng.normal(size=(4, 3)), [rng.normal(size=(4, 3)) for _ in range(steps)]


SGD_CASES = [(0.9, False), (0.9, True), (0.5, True), (0.0, False)]


@pytest.mark.parametrize(("momentum", "nesterov"), SGD_CASES)
def test_velocity_form_sgd_is_sklearns_formula(bk, rng, momentum, nesterov):
    p, grads = data(rng)
    lrs = [0.1, 0.1, 0.05, 0.02, 0.02]  # invscaling / adaptive change lr between steps
    opt = pn.optim.SGD(lr=0.1, momentum=momentum, nesterov=nesterov, velocity_form=True)
    dtype = "float64" if bk.float64 else "float32"
    result, after = run(bk, opt, p, grads, lrs, dtype)
    expected = sklearn_sgd_reference(p, grads, lrs, momentum, nesterov)
    if bk.spec == "numpy":
        np.testing.assert_allclose(result, expected, rtol=1e-15, atol=0)
    assert_close(result, expected, dtype, scale=10)
    for g, seen in zip(grads, after):  # the gradient is left as it was
        np.testing.assert_array_equal(seen, g.astype(seen.dtype))


def test_velocity_form_differs_from_the_default_when_lr_changes(rng):
    numpy = pn.get_backend("numpy")
    p, grads = data(rng)
    lrs = [0.1, 0.1, 0.01, 0.01, 0.01]
    velocity, _ = run(numpy, pn.optim.SGD(lr=0.1, momentum=0.9, velocity_form=True), p, grads, lrs)
    default, _ = run(numpy, pn.optim.SGD(lr=0.1, momentum=0.9), p, grads, lrs)
    np.testing.assert_allclose(velocity, sklearn_sgd_reference(p, grads, lrs, 0.9, False), rtol=1e-15)
    assert np.max(np.abs(velocity - default)) > 1e-3
    constant, _ = run(numpy, pn.optim.SGD(lr=0.1, momentum=0.9, velocity_form=True), p, grads)
    np.testing.assert_allclose(constant, run(numpy, pn.optim.SGD(lr=0.1, momentum=0.9), p, grads)[0], rtol=1e-12)


@pytest.mark.parametrize("betas", [(0.9, 0.999), (0.5, 0.9)])
def test_eps_hat_adam_is_sklearns_formula(bk, rng, betas):
    p, grads = data(rng)
    eps = 1e-3  # large enough for where it is added to show
    opt = pn.optim.Adam(lr=0.01, betas=betas, eps=eps, eps_hat=True)
    dtype = "float64" if bk.float64 else "float32"
    result, after = run(bk, opt, p, grads, dtype=dtype)
    expected = sklearn_adam_reference(p, grads, 0.01, *betas, eps)
    if bk.spec == "numpy":
        np.testing.assert_allclose(result, expected, rtol=1e-15, atol=0)
    assert_close(result, expected, dtype, scale=10)
    for g, seen in zip(grads, after):
        np.testing.assert_array_equal(seen, g.astype(seen.dtype))
    default, _ = run(pn.get_backend("numpy"), pn.optim.Adam(lr=0.01, betas=betas, eps=eps), p, grads)
    assert np.max(np.abs(default - expected)) > 1e-6  # the default form is another formula


def test_eps_hat_adam_on_the_rebinding_path_gives_the_same_numbers(rng):
    numpy = pn.get_backend("numpy")
    p, grads = data(rng)
    for make in (
        lambda: pn.optim.Adam(lr=0.01, eps_hat=True, weight_decay=0.1),
        lambda: pn.optim.AdamW(lr=0.01, eps_hat=True),
        lambda: pn.optim.SGD(lr=0.1, momentum=0.9, nesterov=True, weight_decay=0.1, velocity_form=True),
    ):
        in_place, _ = run(numpy, make(), p, grads)
        rebinding, _ = run(numpy.variant(writeable=False), make(), p, grads)
        np.testing.assert_array_equal(in_place, rebinding)


def test_the_forms_equal_sklearns_own_optimizers(rng):
    optimizers = pytest.importorskip("sklearn.neural_network._stochastic_optimizers")
    numpy = pn.get_backend("numpy")
    p, grads = data(rng, steps=8)
    cases = [
        (optimizers.AdamOptimizer, {"learning_rate_init": 0.01}, pn.optim.Adam(lr=0.01, eps_hat=True)),
        (
            optimizers.SGDOptimizer,
            {"learning_rate_init": 0.1, "momentum": 0.9, "nesterov": True},
            pn.optim.SGD(lr=0.1, momentum=0.9, nesterov=True, velocity_form=True),
        ),
        (
            optimizers.SGDOptimizer,
            {"learning_rate_init": 0.1, "momentum": 0.8, "nesterov": False},
            pn.optim.SGD(lr=0.1, momentum=0.8, velocity_form=True),
        ),
    ]
    for make, kwargs, ours in cases:
        params = [p.copy()]
        theirs = make(params, **kwargs)
        for g in grads:
            theirs.update_params(params, [g.copy()])
        result, _ = run(numpy, ours, p, grads)
        np.testing.assert_allclose(result, params[0], rtol=1e-15, atol=0)


def test_the_forms_are_saved_and_loaded_with_their_settings(rng):
    X, y = rng.normal(size=(16, 3)), rng.normal(size=(16, 1))
    for optimizer in (
        pn.optim.SGD(lr=0.05, momentum=0.9, nesterov=True, velocity_form=True),
        pn.optim.Adam(lr=0.01, eps_hat=True),
    ):
        net = pn.Sequential(pn.Dense(3, 4), pn.Tanh(), pn.Dense(4, 1), dtype="float64", seed=0)
        net.fit(X, y, optimizer=optimizer, epochs=2, batch_size=8, progress=False)
        state = optimizer.state_dict()
        assert not any(name.startswith("scratch") for entries in state["state"].values() for name in entries)
        again = pn.optim.optimizer_from_state(state)
        assert again.get_config() == optimizer.get_config() and repr(again) == repr(optimizer)
        again.bind(net.parameters(), net.backend, owner=net)
        again.load_state_dict(state)
        for key, entries in state["state"].items():
            for name, value in entries.items():
                np.testing.assert_array_equal(pn.to_numpy(again.state[key][name]), value)


def test_the_default_forms_keep_their_configs():
    assert "velocity_form" not in pn.optim.SGD(lr=0.1, momentum=0.9).get_config()
    assert "eps_hat" not in pn.optim.Adam().get_config()
    assert pn.optim.Adam(eps_hat=True).get_config()["eps_hat"] is True


@pytest.mark.parametrize(
    "make",
    [
        lambda: pn.optim.SGD(lr=0.1, velocity_form="yes"),
        lambda: pn.optim.Adam(eps_hat=1),
    ],
)
def test_the_form_switches_take_booleans(make):
    with pytest.raises(TypeError, match="expected True or False"):
        make()
