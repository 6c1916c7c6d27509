"""Compiled steps shared between networks of the same structure and settings (JAX), the learning
rate as an input of the compiled code, and the fit's step kept outside the network."""

import gc
import pickle
import weakref

import numpy as np
import pytest

import portnn as pn
from portnn.objectives.linkloss import LinkLoss
from portnn.objectives.losses import get_loss
from portnn.objectives.penalty import L2Penalty
from portnn.train.compiled import TRACES
from portnn.train.step import TrainStep


def net_of(bk, *layers, seed=0):
    layers = layers or (pn.Dense(4, 6, activation="tanh"), pn.Dense(6, 3))
    return pn.Sequential(*layers, backend=bk, dtype="float64", seed=seed)


def batch(net, rows=5, seed=0):
    rng = np.random.default_rng(seed)
    X, y = rng.normal(size=(rows, 4)), rng.integers(0, 3, size=rows)
    loss = get_loss("cross_entropy")
    return net.check_features(X), loss.prepare_target(net.xp, net.backend.asarray(y), (rows, 3), net.dtype)


def host(net):
    return {k: pn.to_numpy(v) for k, v in net.state_dict().items()}


def assert_same_bits(a, b):
    assert a.keys() == b.keys()
    for key in a:
        np.testing.assert_array_equal(a[key], b[key])


def train(bk, steps=4, compile=True, seed=0, lr=0.1, fresh=False, rows=(5, 5, 3, 5)):
    net = net_of(bk, seed=seed)
    if fresh:
        TRACES.clear()
    step = TrainStep(net, "cross_entropy", pn.optim.SGD(lr=lr, momentum=0.9), compile=compile)
    for i in range(steps):
        step.run(*batch(net, rows[i % len(rows)], seed=i))
    return net, step


def test_a_second_network_built_alike_runs_the_first_ones_code(jax_bk):
    TRACES.clear()
    first_net, first = train(jax_bk)
    trace = first.compiled.trace
    assert trace.traces == 2  # full batches, then the short one
    second_net, second = train(jax_bk, seed=1)
    assert second.compiled.trace is trace and trace.traces == 2  # nothing traced again
    # and it trained the second network, with the numbers of a step compiled for it alone
    fresh_net, fresh = train(jax_bk, seed=1, fresh=True)
    assert fresh.compiled.trace is not trace
    assert_same_bits(host(second_net), host(fresh_net))
    assert_same_bits(host(first_net), host(train(jax_bk, fresh=True)[0]))


def test_a_trace_for_new_shapes_traces_the_network_that_calls(jax_bk):
    TRACES.clear()
    a, _ = train(jax_bk, steps=1)  # traced for 5 rows only
    b, step_b = train(jax_bk, steps=1, seed=1)
    before_a = host(a)
    X, y = batch(b, rows=3, seed=7)
    step_b.run(X, y)  # a new trace, bound to b
    assert step_b.compiled.trace.traces == 2
    assert_same_bits(host(a), before_a)  # a's arrays are not what the trace read or wrote
    reference, step_r = train(jax_bk, steps=1, seed=1, fresh=True)
    step_r.run(*batch(reference, rows=3, seed=7))
    assert_same_bits(host(b), host(reference))


@pytest.mark.parametrize(
    "other",
    [
        lambda bk: net_of(bk, pn.Dense(4, 6, activation="relu"), pn.Dense(6, 3)),  # activation
        lambda bk: net_of(bk, pn.Dense(4, 7, activation="tanh"), pn.Dense(7, 3)),  # shape
        lambda bk: net_of(bk, pn.Dense(4, 6), pn.LeakyReLU(0.2), pn.Dense(6, 3)),  # a traced constant
        lambda bk: net_of(bk, pn.Dense(4, 6, activation="tanh", bias=False), pn.Dense(6, 3)),
    ],
)
def test_networks_that_trace_differently_do_not_share(jax_bk, other):
    base = TrainStep(net_of(jax_bk), "cross_entropy", pn.optim.SGD(lr=0.1))
    leaky = TrainStep(
        net_of(jax_bk, pn.Dense(4, 6), pn.LeakyReLU(0.1), pn.Dense(6, 3)), "cross_entropy", pn.optim.SGD(lr=0.1)
    )
    step = TrainStep(other(jax_bk), "cross_entropy", pn.optim.SGD(lr=0.1))
    assert step.compiled.trace is not base.compiled.trace
    assert step.compiled.trace is not leaky.compiled.trace


def test_settings_that_are_traced_are_not_shared(jax_bk):
    def trace(loss="cross_entropy", optimizer=None, dtype="float64"):
        net = pn.Sequential(pn.Dense(4, 3), backend=jax_bk, dtype=dtype, seed=0)
        return TrainStep(net, loss, optimizer or pn.optim.SGD(lr=0.1)).compiled.trace

    base = trace()
    assert trace() is base and trace(optimizer=pn.optim.SGD(lr=0.3)) is base  # lr is an input
    assert trace(loss=pn.losses.CrossEntropy(from_logits=False)) is not base
    assert trace(loss="mse") is not base
    assert trace(optimizer=pn.optim.SGD(lr=0.1, momentum=0.5)) is not base
    assert trace(optimizer=pn.optim.Adam(lr=0.1)) is not base
    assert trace(optimizer=pn.optim.SGD(lr=0.1, clipnorm=1.0)) is not base
    assert trace(dtype="float32") is not base


def penalized(bk, alpha, suffix=".weight", kind="squared_error"):
    net = pn.Sequential(pn.Dense(3, 4, activation="tanh"), pn.Dense(4, 2), backend=bk, dtype="float64", seed=0)
    penalty = L2Penalty(alpha=alpha, weight_suffix=suffix, backend=net.backend)
    penalty.watch(net.parameters())
    loss = LinkLoss("identity", kind, penalty=penalty, backend=net.backend)
    return net, TrainStep(net, loss, pn.optim.Adam(lr=0.01), grad_hook=penalty)


def test_the_gradient_hooks_settings_are_part_of_the_key(jax_bk):
    base = penalized(jax_bk, 0.1)[1].compiled.trace
    assert penalized(jax_bk, 0.1)[1].compiled.trace is base
    assert penalized(jax_bk, 0.2)[1].compiled.trace is not base  # alpha
    assert penalized(jax_bk, 0.1, suffix=".bias")[1].compiled.trace is not base  # what it watches
    assert penalized(jax_bk, 0.1, kind="poisson")[1].compiled.trace is not base  # the loss's setting


def test_a_penalized_step_shared_gives_a_fresh_steps_bits(jax_bk):
    rng = np.random.default_rng(0)
    X, y = rng.normal(size=(8, 3)), rng.normal(size=(8, 2))
    results = []
    for fresh in (False, False, True):
        if fresh:
            TRACES.clear()
        net, step = penalized(jax_bk, 0.1)
        values = [float(step.run(net.check_features(X), jax_bk.asarray(y, net.dtype))) for _ in range(3)]
        results.append((values, host(net)))
    assert results[0][0] == results[1][0] == results[2][0]
    assert_same_bits(results[1][1], results[2][1])


def test_a_changed_learning_rate_runs_without_tracing_again(jax_bk):
    results = {}
    for compile in (True, False):
        net = net_of(jax_bk)
        optimizer = pn.optim.SGD(lr=0.1, momentum=0.9)
        step = TrainStep(net, "cross_entropy", optimizer, compile=compile)
        for i in range(6):
            optimizer.lr = 0.1 / (i + 1)
            step.run(*batch(net, 5, seed=i))
        if compile:
            assert step.compiled.trace.traces <= 1  # at most its own trace: no other for a new lr
        results[compile] = host(net)
    for key, value in results[False].items():  # compiled and op by op agree to rounding (test_compiled)
        np.testing.assert_allclose(results[True][key], value, rtol=1e-11, atol=1e-14)


@pytest.mark.parametrize(
    "make",
    [
        lambda: pn.optim.SGD(lr=0.1),
        lambda: pn.optim.Adam(lr=0.01),
        lambda: pn.optim.AdamW(lr=0.01),
        lambda: pn.optim.RMSprop(lr=0.01),
    ],
)
def test_a_learning_rate_changed_by_a_callback_follows_eager_updates(jax_bk, make):
    class Halve(pn.Callback):
        def on_epoch_end(self, model, epoch, logs):
            model.optimizer.lr *= 0.5

    rng = np.random.default_rng(0)
    X, y = rng.normal(size=(23, 4)), rng.integers(0, 3, size=23)
    nets = {}
    for compile in (True, False):
        nets[compile] = net_of(jax_bk)
        nets[compile].fit(
            X,
            y,
            loss="cross_entropy",
            optimizer=make(),
            epochs=3,
            batch_size=5,
            progress=False,
            compile=compile,
            callbacks=[Halve()],
        )
    for key, value in host(nets[False]).items():
        np.testing.assert_allclose(host(nets[True])[key], value, rtol=1e-11, atol=1e-14)


def test_the_fits_step_is_kept_outside_the_network(jax_bk):
    net = net_of(jax_bk)
    X, y = np.ones((4, 4)), np.array([0, 1, 2, 0])
    net.fit(X, y, loss="cross_entropy", progress=False)
    step = net.train_step
    assert step is not None and "train_step" not in vars(net)
    net.fit(X, y, loss="cross_entropy", progress=False)
    assert net.train_step is step
    copy = pickle.loads(pickle.dumps(net))
    assert copy.train_step is None
    np.testing.assert_array_equal(pn.to_numpy(copy(X)), pn.to_numpy(net(X)))
    copy.fit(X, y, loss="cross_entropy", progress=False)
    assert net.to("numpy").train_step is None
    gone = weakref.ref(net)
    del net, step, copy
    gc.collect()
    assert gone() is None  # the kept step does not keep its network alive


def test_an_optimizers_own_settings_are_part_of_the_key(jax_bk):
    class Scaled(pn.optim.SGD):
        """An SGD whose extra setting is not in get_config: read by the trace all the same."""

        def __init__(self, lr, scale):
            super().__init__(lr)
            self.scale = scale

        def _update(self, p, g, state):
            return super()._update(p, g * self.scale, state)

    def trace(optimizer):
        net = pn.Sequential(pn.Dense(4, 3), backend=jax_bk, dtype="float64", seed=0)
        return TrainStep(net, "mse", optimizer).compiled.trace

    assert trace(Scaled(0.1, 2.0)) is trace(Scaled(0.2, 2.0))
    assert trace(Scaled(0.1, 2.0)) is not trace(Scaled(0.1, 3.0))


def test_the_kept_traces_are_bounded(jax_bk, monkeypatch):
    monkeypatch.setattr("portnn.train.compiled.CACHE_SIZE", 2)
    TRACES.clear()

    def trace(width):
        net = pn.Sequential(pn.Dense(4, width), backend=jax_bk, dtype="float64", seed=0)
        return TrainStep(net, "mse", pn.optim.SGD(lr=0.1)).compiled.trace

    first = trace(1)
    assert trace(1) is first
    trace(2), trace(3)
    assert len(TRACES) == 2 and trace(1) is not first  # the least recently used went first
