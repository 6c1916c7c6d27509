"""Optimizers against float64 NumPy references of PyTorch's update rules, on every backend, and
the in-place path against the rebinding path (the JAX path) on the same numbers."""

import numpy as np
import pytest

import portnn as pn
from portnn.nn.parameter import Parameter
from portnn.testing import assert_close


def reference_steps(name, kwargs, p, grads):
    """Plain NumPy updates, written from the published algorithms (PyTorch conventions)."""
    p = p.copy()
    lr, wd = kwargs.get("lr"), kwargs.get("weight_decay", 0.0)
    m = np.zeros_like(p)
    v = np.zeros_like(p)
    for t, g in enumerate(grads, start=1):
        g = g.copy()
        if name == "SGD":
            g = g + wd * p
            mu = kwargs.get("momentum", 0.0)
            if mu:
                m = mu * m + g
                g = g + mu * m if kwargs.get("nesterov") else m
            p = p - lr * g
        elif name in ("Adam", "AdamW"):
            b1, b2 = kwargs.get("betas", (0.9, 0.999))
            if name == "Adam":
                g = g + wd * p
            else:
                p = p * (1 - lr * wd)
            m = b1 * m + (1 - b1) * g
            v = b2 * v + (1 - b2) * g * g
            p = p - lr / (1 - b1**t) * m / (np.sqrt(v / (1 - b2**t)) + kwargs.get("eps", 1e-8))
        elif name == "RMSprop":
            g = g + wd * p
            a = kwargs.get("alpha", 0.99)
            v = a * v + (1 - a) * g * g
            p = p - lr * g / (np.sqrt(v) + kwargs.get("eps", 1e-8))
    return p


CASES = [
    ("SGD", {"lr": 0.1}),
    ("SGD", {"lr": 0.1, "momentum": 0.9}),
    ("SGD", {"lr": 0.1, "momentum": 0.9, "nesterov": True, "weight_decay": 0.01}),
    ("Adam", {"lr": 0.01}),
    ("Adam", {"lr": 0.01, "weight_decay": 0.1}),
    ("AdamW", {"lr": 0.01, "weight_decay": 0.1}),
    ("RMSprop", {"lr": 0.01, "weight_decay": 0.05}),
]


def run_steps(bk, name, kwargs, p, grads, dtype="float64"):
    xdtype = bk.dtype(dtype)
    params, grad_store = {"w": bk.asarray(p.copy(), xdtype)}, {"w": None}
    opt = getattr(pn.optim, name)(**kwargs)
    grad_store["w"] = bk.xp.zeros_like(params["w"])
    opt.bind([Parameter("0.w", params, grad_store, "w")], bk)
    for g in grads:
        grad_store["w"] = bk.asarray(g.copy(), xdtype)  # the optimizer may reuse the gradient buffer
        opt.step()
    return params["w"]


@pytest.mark.parametrize(("name", "kwargs"), CASES, ids=[f"{n}-{'-'.join(k)}" for n, k in CASES])
def test_optimizer_matches_reference(bk, rng, name, kwargs):
    dtype = "float64" if bk.float64 else "float32"
    p = rng.normal(size=(3, 4))
    grads = [rng.normal(size=(3, 4)) for _ in range(4)]
    result = run_steps(bk, name, kwargs, p, grads, dtype)
    assert_close(result, reference_steps(name, kwargs, p, grads), dtype, scale=100)


@pytest.mark.parametrize(("name", "kwargs"), CASES, ids=[f"{n}-{'-'.join(k)}" for n, k in CASES])
def test_in_place_and_rebinding_paths_agree(rng, name, kwargs):
    numpy = pn.get_backend("numpy")
    p = rng.normal(size=(3, 4))
    grads = [rng.normal(size=(3, 4)) for _ in range(4)]
    in_place = run_steps(numpy, name, kwargs, p, grads)
    rebinding = run_steps(numpy.variant(writeable=False), name, kwargs, p, grads)
    np.testing.assert_array_equal(in_place, rebinding)


def test_in_place_path_keeps_the_parameter_buffer(rng):
    bk = pn.get_backend("numpy")
    params, grads = {"w": np.zeros((2, 2))}, {"w": np.ones((2, 2))}
    before = params["w"]
    opt = pn.optim.Adam(lr=0.1)
    opt.bind([Parameter("0.w", params, grads, "w")], bk)
    opt.step()
    assert params["w"] is before and not np.all(before == 0)


@pytest.mark.parametrize(
    ("make", "match"),
    [
        (lambda: pn.optim.SGD(lr=0), r"lr: expected a value in \(0.0"),
        (lambda: pn.optim.SGD(lr=-1.0), r"lr: expected a value in \(0.0"),
        (lambda: pn.optim.SGD(lr=0.1, momentum=1.5), "momentum"),
        (lambda: pn.optim.SGD(lr=0.1, nesterov=True), "Nesterov momentum needs momentum > 0"),
        (lambda: pn.optim.Adam(betas=(0.9, 1.0)), r"betas\[1\]"),
        (lambda: pn.optim.Adam(eps=0.0), "eps"),
        (lambda: pn.optim.RMSprop(weight_decay=-1.0), "weight_decay"),
        (lambda: pn.optim.get_optimizer("adagrad"), r"unknown name 'adagrad'.*'adam'"),
    ],
)
def test_bad_optimizer_arguments(make, match):
    with pytest.raises(ValueError, match=match):
        make()


def test_learning_rate_must_be_a_number():
    with pytest.raises(TypeError, match="lr: expected a finite number"):
        pn.optim.SGD(lr="fast")


def test_schedules():
    decay = pn.optim.exponential_decay(1.0, 0.5, every=2)
    assert [decay(s) for s in range(5)] == [1.0, 1.0, 0.5, 0.5, 0.25]
    cosine = pn.optim.cosine_decay(1.0, 10)
    assert cosine(0) == 1.0 and abs(cosine(10)) < 1e-12 and cosine(20) == cosine(10)
    opt = pn.optim.SGD(lr=decay)
    assert opt.lr == 1.0


@pytest.mark.parametrize(
    "make",
    [
        lambda: pn.optim.SGD(lr=0.1),
        lambda: pn.optim.SGD(lr=0.1, momentum=0.9, nesterov=True, weight_decay=0.01),
        lambda: pn.optim.Adam(weight_decay=0.01),
        lambda: pn.optim.AdamW(),
        lambda: pn.optim.RMSprop(weight_decay=0.01),
    ],
)
def test_update_allocates_no_parameter_sized_array_on_numpy(make, rng):
    import tracemalloc

    bk = pn.get_backend("numpy")
    params, grads = {"w": rng.normal(size=(256, 256))}, {"w": rng.normal(size=(256, 256))}
    opt = make()
    opt.bind([Parameter("0.w", params, grads, "w")], bk)
    opt.step()  # state exists before measuring
    tracemalloc.start()
    try:
        opt.step()
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < params["w"].nbytes / 10, f"{peak} bytes allocated by one update"


def test_sgd_follows_lr_changes_and_moves(rng):
    """SGD keeps lr as a 0-D array: it must follow a changed lr and a model moved elsewhere."""
    X, y = rng.normal(size=(8, 2)), rng.normal(size=(8, 1))
    net = pn.Sequential(pn.Dense(2, 1), dtype="float64", seed=0)
    opt = pn.optim.SGD(lr=0.1)
    net.fit(X, y, optimizer=opt, epochs=1, progress=False)
    before = net.state_dict()
    opt.lr = 0.0001  # a tiny step now: the weights barely move
    net.fit(X, y, optimizer=opt, epochs=1, progress=False)
    moved = max(float(np.max(np.abs(net.state_dict()[k] - before[k]))) for k in before)
    assert 0 < moved < 1e-3
    net.to("array_api_strict")
    net.fit(X, y, optimizer=opt, epochs=1, progress=False)  # the cached lr follows the backend
    assert opt._lr_array.__class__ is not np.ndarray
