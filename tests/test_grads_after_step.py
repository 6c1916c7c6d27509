"""After ``step()``, ``Parameter.grad`` is still the gradient of the backward pass: on every
backend, for every optimizer, clipping setting and weight decay, on the parameter block's one
update (or JAX's compiled step) and on the one-update-per-parameter path. Optimizers compute in
buffers of their own; before, Adam squared the gradient in place, SGD scaled it on NumPy, and
clipping clipped it."""

import numpy as np
import pytest

import portnn as pn
from portnn.testing import assert_close
from portnn.train.step import TrainStep

OPTIMIZERS = {
    "sgd": lambda **c: pn.optim.SGD(lr=0.1, **c),
    "sgd-decay": lambda **c: pn.optim.SGD(lr=0.1, weight_decay=0.1, **c),
    "momentum-decay": lambda **c: pn.optim.SGD(lr=0.1, momentum=0.9, weight_decay=0.1, **c),
    "nesterov": lambda **c: pn.optim.SGD(lr=0.1, momentum=0.9, nesterov=True, **c),
    "nesterov-decay": lambda **c: pn.optim.SGD(lr=0.1, momentum=0.9, nesterov=True, weight_decay=0.1, **c),
    "velocity-nesterov": lambda **c: pn.optim.SGD(lr=0.1, momentum=0.9, nesterov=True, velocity_form=True, **c),
    "adam": lambda **c: pn.optim.Adam(lr=0.01, **c),
    "adam-decay": lambda **c: pn.optim.Adam(lr=0.01, weight_decay=0.1, **c),
    "adam-eps-hat-decay": lambda **c: pn.optim.Adam(lr=0.01, eps_hat=True, weight_decay=0.1, **c),
    "adamw": lambda **c: pn.optim.AdamW(lr=0.01, weight_decay=0.1, **c),
    "rmsprop-decay": lambda **c: pn.optim.RMSprop(lr=0.01, weight_decay=0.1, **c),
}

# limits small enough that every one of them clips these gradients
CLIPPING = {
    "none": {},
    "clipnorm": {"clipnorm": 0.01},
    "global_clipnorm": {"global_clipnorm": 0.01},
    "clipvalue": {"clipvalue": 0.001},
    "clipvalue-clipnorm": {"clipvalue": 0.002, "clipnorm": 0.003},
}


def _setup(bk):
    dtype = "float64" if bk.float64 else "float32"
    net = pn.Sequential(pn.Dense(3, 5), pn.Tanh(), pn.Dense(5, 2), backend=bk.spec, dtype=dtype, seed=0)
    rng = np.random.default_rng(0)
    X, y = rng.normal(size=(16, 3)), rng.normal(size=(16, 2)) * 5
    return net, dtype, X, y


@pytest.mark.parametrize("clipping", sorted(CLIPPING))
@pytest.mark.parametrize("name", sorted(OPTIMIZERS))
def test_the_gradient_is_left_as_the_backward_pass_wrote_it(bk, name, clipping):
    """On the parameter block's one update where writeable, the compiled step on JAX."""
    check_steps(bk, name, clipping, per_parameter=False)


@pytest.mark.parametrize("clipping", ["none", "global_clipnorm", "clipvalue-clipnorm"])
@pytest.mark.parametrize("name", sorted(OPTIMIZERS))
def test_the_gradient_is_left_alone_by_the_per_parameter_update(bk, name, clipping):
    check_steps(bk, name, clipping, per_parameter=True)


def check_steps(bk, name, clipping, per_parameter):
    net, dtype, X, y = _setup(bk)
    step = TrainStep(net, "mse", OPTIMIZERS[name](**CLIPPING[clipping]), compile=not per_parameter)
    if per_parameter:
        step.optimizer.flat = None
    Xd, yd = net.check_features(X), bk.asarray(y, net.dtype)
    for _ in range(3):  # the later steps have state (momenta) to update
        _, expected = pn.value_and_grad(net, "mse", X, y)  # at the weights the step starts from
        before = net.state_dict()
        step(Xd, yd)
        for p in net.parameters():
            assert_close(p.grad, pn.to_numpy(expected[p.name]), dtype, scale=10, err_msg=p.name)
        moved = max(float(np.max(np.abs(pn.to_numpy(net.state_dict()[k]) - pn.to_numpy(before[k])))) for k in before)
        assert moved > 0  # and the step did update the weights


@pytest.mark.parametrize("clipping", sorted(CLIPPING))
def test_the_gradient_after_a_step_is_the_same_on_every_backend(bk, clipping):
    grads = {}
    for backend in (pn.get_backend("numpy"), bk):
        net, dtype, X, y = _setup(backend)
        optimizer = pn.optim.SGD(lr=0.1, momentum=0.9, weight_decay=0.01, **CLIPPING[clipping])
        net.fit(X, y, optimizer=optimizer, epochs=2, progress=False, shuffle=False)
        grads[backend.spec] = {p.name: pn.to_numpy(p.grad) for p in net.parameters()}
    for key, value in grads["numpy"].items():
        assert_close(grads[bk.spec][key], value, dtype, scale=100, err_msg=key)
