"""Gradient clipping (``clipnorm``, ``global_clipnorm``, ``clipvalue`` on every optimizer): against
``torch.nn.utils.clip_grad_*_`` and a per-tensor NumPy reference in float64 on every backend. The
compiled JAX step, checkpoints and pickles, and bad settings are in test_clipping_settings.py."""

import numpy as np
import pytest

import portnn as pn
from portnn.nn.parameter import Parameter
from portnn.testing import backend_skip_reason

SHAPES = [(3, 4), (4,), (2, 3)]


def gradients(rng, steps, scale):
    return [[scale * rng.normal(size=s) for s in SHAPES] for _ in range(steps)]


def bind(bk, optimizer, values):
    """``optimizer`` bound to float64 parameters of ``bk`` holding ``values``; returns (params, grads)."""
    f64 = bk.dtype("float64")
    store = {f"w{i}": bk.asarray(v.copy(), f64) for i, v in enumerate(values)}
    grads = {key: bk.xp.zeros_like(value) for key, value in store.items()}
    optimizer.bind([Parameter(f"0.{key}", store, grads, key) for key in store], bk)
    return store, grads


def run(bk, optimizer, p0, grad_steps):
    store, grads = bind(bk, optimizer, p0)
    for step in grad_steps:
        for i, g in enumerate(step):
            grads[f"w{i}"] = bk.asarray(g.copy(), bk.dtype("float64"))
        optimizer.step()
    return [pn.to_numpy(store[f"w{i}"]) for i in range(len(p0))]


def clip_once(bk, optimizer, values):
    """The gradient dict after ``optimizer`` clipped ``values`` (NumPy arrays) on ``bk``."""
    _, grads = bind(bk, optimizer, [np.zeros(s) for s in SHAPES])
    for i, g in enumerate(values):
        grads[f"w{i}"] = bk.asarray(g.copy(), bk.dtype("float64"))
    optimizer.clipping(optimizer.parameters, bk)
    return grads


def clip_numpy(grads, clipnorm=None, global_clipnorm=None, clipvalue=None):
    """The clipping written out in NumPy (value, then norm)."""
    grads = [g.copy() for g in grads]
    if clipvalue is not None:
        grads = [np.clip(g, -clipvalue, clipvalue) for g in grads]
    if clipnorm is not None:
        grads = [g * (clipnorm / max(np.sqrt(np.sum(g * g)), clipnorm)) for g in grads]
    if global_clipnorm is not None:
        total = np.sqrt(sum(np.sum(g * g) for g in grads))
        grads = [g * min(1.0, global_clipnorm / (total + 1e-6)) for g in grads]
    return grads


def torch_run(name, kwargs, clipping, p0, grad_steps):
    """PyTorch's optimizer after ``clip_grad_value_`` and/or ``clip_grad_norm_`` each step."""
    torch = pytest.importorskip("torch", reason="torch is not installed: no PyTorch reference")
    params = [torch.tensor(p.copy(), requires_grad=True) for p in p0]
    opt = getattr(torch.optim, name)(params, **kwargs)
    for step in grad_steps:
        for p, g in zip(params, step):
            p.grad = torch.tensor(g.copy())
        if "clipvalue" in clipping:
            torch.nn.utils.clip_grad_value_(params, clipping["clipvalue"])
        if "global_clipnorm" in clipping:
            torch.nn.utils.clip_grad_norm_(params, clipping["global_clipnorm"])
        opt.step()
    return [p.detach().numpy() for p in params]


TORCH_CASES = [
    ("SGD", {"lr": 0.1, "momentum": 0.9}, {"global_clipnorm": 1.0}),
    ("SGD", {"lr": 0.1, "momentum": 0.9, "nesterov": True, "weight_decay": 0.05}, {"global_clipnorm": 0.5}),
    ("SGD", {"lr": 0.1, "momentum": 0.9}, {"clipvalue": 0.3}),
    ("SGD", {"lr": 0.1, "momentum": 0.9}, {"clipvalue": 0.3, "global_clipnorm": 0.8}),
    ("Adam", {"lr": 0.01}, {"global_clipnorm": 1.0}),
    ("Adam", {"lr": 0.01, "weight_decay": 0.1}, {"global_clipnorm": 1.0}),
    ("Adam", {"lr": 0.01}, {"clipvalue": 0.3}),
    ("RMSprop", {"lr": 0.01}, {"global_clipnorm": 1.0}),
]


def case_id(case):
    name, kwargs, clipping = case
    return f"{name}-{'-'.join(kwargs)}-{'-'.join(clipping)}"


@pytest.mark.parametrize(("name", "kwargs", "clipping"), TORCH_CASES, ids=map(case_id, TORCH_CASES))
def test_training_matches_torch_clip_grad(bk64, rng, name, kwargs, clipping):
    p0 = [rng.normal(size=s) for s in SHAPES]
    grad_steps = gradients(rng, 4, scale=3.0)  # every step is clipped
    ours = run(bk64, getattr(pn.optim, name)(**kwargs, **clipping), p0, grad_steps)
    theirs = torch_run(name, kwargs, clipping, p0, grad_steps)
    unclipped = run(bk64, getattr(pn.optim, name)(**kwargs), p0, grad_steps)
    for a, b, u in zip(ours, theirs, unclipped):
        np.testing.assert_allclose(a, b, rtol=1e-13, atol=1e-14)
        assert not np.allclose(a, u)  # the clipping did something


@pytest.mark.parametrize(
    "clipping", [{"global_clipnorm": 1.0}, {"clipvalue": 0.3}, {"clipvalue": 0.3, "global_clipnorm": 0.7}]
)
def test_clipped_gradients_match_torch_to_1e_15(bk64, rng, clipping):
    torch = pytest.importorskip("torch", reason="torch is not installed: no PyTorch reference")
    values = gradients(rng, 1, scale=3.0)[0]
    optimizer = pn.optim.SGD(lr=0.1, **clipping)
    grads = clip_once(bk64, optimizer, values)
    params = [torch.zeros(s, dtype=torch.float64, requires_grad=True) for s in SHAPES]
    for p, g in zip(params, values):
        p.grad = torch.tensor(g.copy())
    if "clipvalue" in clipping:
        torch.nn.utils.clip_grad_value_(params, clipping["clipvalue"])
    if "global_clipnorm" in clipping:
        total = torch.nn.utils.clip_grad_norm_(params, clipping["global_clipnorm"])
        assert float(total) > clipping["global_clipnorm"]  # active
    for i, p in enumerate(params):
        np.testing.assert_allclose(pn.to_numpy(grads[f"w{i}"]), p.grad.numpy(), rtol=1e-15, atol=0)


@pytest.mark.parametrize(
    "clipping", [{"clipnorm": 1.5}, {"clipnorm": 0.7, "clipvalue": 0.4}], ids=["clipnorm", "clipvalue-clipnorm"]
)
@pytest.mark.parametrize(("name", "kwargs"), [("SGD", {"lr": 0.1, "momentum": 0.9}), ("Adam", {"lr": 0.01})])
def test_clipnorm_matches_a_per_tensor_reference(bk64, rng, name, kwargs, clipping):
    values = gradients(rng, 1, scale=3.0)[0]
    optimizer = getattr(pn.optim, name)(**kwargs, **clipping)
    grads = clip_once(bk64, optimizer, values)
    expected = clip_numpy(values, **clipping)
    for i, want in enumerate(expected):
        got = pn.to_numpy(grads[f"w{i}"])
        np.testing.assert_allclose(got, want, rtol=1e-15, atol=0)
        assert np.linalg.norm(got) <= clipping["clipnorm"] * (1 + 1e-15)
    # and whole trajectories: the update of the clipped gradients, as from the NumPy reference
    p0 = [rng.normal(size=s) for s in SHAPES]
    grad_steps = gradients(rng, 3, scale=3.0)
    ours = run(bk64, getattr(pn.optim, name)(**kwargs, **clipping), p0, grad_steps)
    reference = run(bk64, getattr(pn.optim, name)(**kwargs), p0, [clip_numpy(s, **clipping) for s in grad_steps])
    for a, b in zip(ours, reference):
        np.testing.assert_allclose(a, b, rtol=1e-13, atol=1e-14)


@pytest.mark.parametrize(
    "clipping",
    [{"clipnorm": 100.0}, {"global_clipnorm": 100.0}, {"clipvalue": 100.0}, {"clipvalue": 50, "clipnorm": 90}],
)
def test_below_the_limits_gradients_and_updates_are_unchanged_bitwise(bk64, rng, clipping):
    values = gradients(rng, 1, scale=1.0)[0]
    optimizer = pn.optim.Adam(lr=0.01, **clipping)
    grads = clip_once(bk64, optimizer, values)
    for i, g in enumerate(values):
        np.testing.assert_array_equal(pn.to_numpy(grads[f"w{i}"]), g)
    p0 = [rng.normal(size=s) for s in SHAPES]
    grad_steps = gradients(rng, 3, scale=1.0)
    clipped = run(bk64, pn.optim.SGD(lr=0.1, momentum=0.9, **clipping), p0, grad_steps)
    plain = run(bk64, pn.optim.SGD(lr=0.1, momentum=0.9), p0, grad_steps)
    for a, b in zip(clipped, plain):
        np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("spec", ["numpy", "torch:cpu"])
@pytest.mark.parametrize("clipping", [{"clipnorm": 0.5}, {"global_clipnorm": 0.5}, {"clipvalue": 0.1}])
def test_writeable_gradients_are_clipped_in_their_buffers(spec, rng, clipping):
    reason = backend_skip_reason(spec)
    if reason:
        pytest.skip(reason)
    bk = pn.get_backend(spec)
    optimizer = pn.optim.SGD(lr=0.1, **clipping)
    _, grads = bind(bk, optimizer, [np.zeros(s) for s in SHAPES])
    for i, g in enumerate(gradients(rng, 1, scale=3.0)[0]):
        grads[f"w{i}"] = bk.asarray(g, bk.dtype("float64"))
    before = dict(grads)
    optimizer.clipping(optimizer.parameters, bk)
    assert all(grads[key] is before[key] for key in grads)
