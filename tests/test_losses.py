"""Every loss: finite-difference gradient in float64, value against a float64 NumPy reference,
result on the prediction's backend, and the shape and range checks."""

import numpy as np
import pytest
from reference import LOSSES

import portnn as pn
from portnn.testing import assert_close, assert_on_backend, numeric_grad


def case(name, rng, n=5, k=4):
    """(loss object, prediction, target, reference key) with inputs inside each loss's domain."""
    logits = rng.normal(0.0, 2.0, (n, k))
    probs = np.exp(logits / 4) / np.exp(logits / 4).sum(axis=1, keepdims=True)  # no tiny p: 1/p is steep
    onehot = np.eye(k)[rng.integers(0, k, n)]
    soft = rng.dirichlet(np.ones(k), n)
    soft[0, 0] = 0.0  # a zero target exercises 0 log 0 = 0
    soft[0] /= soft[0].sum()
    binary = rng.integers(0, 2, (n, 1)).astype(float)
    return {
        "mse": (pn.MSE(), rng.normal(size=(n, 3)), rng.normal(size=(n, 3)), "mse"),
        "bce": (pn.BinaryCrossEntropy(), rng.uniform(0.05, 0.95, (n, 1)), binary, "bce"),
        "bce_logits": (pn.BinaryCrossEntropy(from_logits=True), rng.normal(0, 3, (n, 1)), binary, "bce_logits"),
        "cross_entropy": (pn.CrossEntropy(), logits, onehot, "cross_entropy"),
        "cross_entropy_soft": (pn.CrossEntropy(), logits, soft, "cross_entropy"),
        "cross_entropy_probs": (pn.CrossEntropy(from_logits=False), probs, onehot, "cross_entropy_probs"),
        "kl_div": (pn.KLDivergence(), probs, soft, "kl_div"),
        "exponential": (pn.Exponential(), rng.normal(size=(n, 1)), binary, "exponential"),
    }[name]


NAMES = [
    "mse",
    "bce",
    "bce_logits",
    "cross_entropy",
    "cross_entropy_soft",
    "cross_entropy_probs",
    "kl_div",
    "exponential",
]


@pytest.mark.parametrize("name", NAMES)
def test_loss_gradient_float64(bk64, rng, name):
    loss, pred, target, _ = case(name, rng)
    t = bk64.asarray(target, bk64.xp.float64)

    def value(p):
        return float(loss(bk64.asarray(p, bk64.xp.float64), t))

    grad = loss.grad(bk64.asarray(pred, bk64.xp.float64), t)
    assert_on_backend(grad, bk64)
    np.testing.assert_allclose(pn.to_numpy(grad), numeric_grad(value, pred), rtol=1e-6, atol=1e-9)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("name", NAMES)
def test_loss_value_matches_numpy(bk, rng, name, dtype):
    if dtype == "float64" and not bk.float64:
        pytest.skip(f"{bk.spec} has no float64")
    loss, pred, target, ref = case(name, rng)
    xdtype = bk.dtype(dtype)
    value = loss(bk.asarray(pred, xdtype), bk.asarray(target, xdtype))
    assert_on_backend(value, bk)
    assert value.shape == ()
    seen = lambda a: a.astype(dtype).astype(np.float64)  # noqa: E731
    assert_close(value, LOSSES[ref](seen(pred), seen(target)), dtype, scale=10)


def test_integer_labels_equal_one_hot(bk, rng):
    logits = rng.normal(size=(6, 3))
    labels = np.array([0, 2, 1, 1, 0, 2])
    f32 = bk.dtype("float32")
    z = bk.asarray(logits, f32)
    by_label = pn.CrossEntropy()(z, bk.asarray(labels))
    by_onehot = pn.CrossEntropy()(z, bk.asarray(np.eye(3)[labels], f32))
    assert_close(by_label, by_onehot, "float32")


def test_losses_by_name():
    for name, cls in [
        ("mse", pn.MSE),
        ("bce", pn.BinaryCrossEntropy),
        ("cross_entropy", pn.CrossEntropy),
        ("kl_div", pn.KLDivergence),
        ("exponential", pn.Exponential),
    ]:
        assert isinstance(pn.losses.get_loss(name), cls)
    with pytest.raises(ValueError, match=r"unknown name 'hinge'.*mse"):
        pn.losses.get_loss("hinge")


def test_no_silent_broadcasting():
    with pytest.raises(ValueError, match=r"target shape \(4,\) differs from prediction shape \(4, 1\)"):
        pn.MSE()(np.zeros((4, 1)), np.zeros(4))


def test_class_labels_out_of_range():
    with pytest.raises(ValueError, match=r"class labels must be in \[0, 3\); row 1 has label 3"):
        pn.CrossEntropy()(np.zeros((2, 3)), np.array([0, 3]))


def test_bce_probabilities_outside_unit_interval():
    with pytest.raises(ValueError, match=r"predicted probabilities.*row 1"):
        pn.BinaryCrossEntropy()(np.array([[0.5], [1.5]]), np.array([[1.0], [0.0]]))
    with pytest.raises(ValueError, match=r"targets must lie in \[0, 1\]"):
        pn.BinaryCrossEntropy(from_logits=True)(np.array([[0.5]]), np.array([[2.0]]))


def test_prediction_and_target_from_different_backends():
    xps = pytest.importorskip("array_api_strict")
    with pytest.raises(TypeError, match="target is a"):
        pn.MSE()(np.zeros((2, 1)), xps.zeros((2, 1)))
