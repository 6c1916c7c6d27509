"""The parameter block: a network's parameters and gradients as views of two flat arrays, updated
by the optimizers in one call where every array is still its view, and one call per parameter
otherwise (the generic path, which the flat one must match)."""

import pickle

import numpy as np
import pytest

import portnn as pn
from portnn.train.step import TrainStep

OPTIMIZERS = {
    "sgd": lambda: pn.optim.SGD(lr=0.1),
    "sgd-momentum-decay": lambda: pn.optim.SGD(lr=0.1, momentum=0.9, weight_decay=0.01),
    "nesterov": lambda: pn.optim.SGD(lr=0.1, momentum=0.9, nesterov=True),
    "adam": lambda: pn.optim.Adam(lr=0.01, weight_decay=0.01),
    "adamw": lambda: pn.optim.AdamW(lr=0.01),
    "rmsprop": lambda: pn.optim.RMSprop(lr=0.01, weight_decay=0.01),
    "global-clipnorm": lambda: pn.optim.SGD(lr=0.1, global_clipnorm=0.5),
}


def _net(spec, dtype="float64"):
    layers = [pn.Dense(3, 5), pn.Tanh(), pn.Dense(5, 2)]
    return pn.Sequential(*layers, backend=spec, dtype=dtype, seed=0)


def _data(net):
    rng = np.random.default_rng(0)
    X, y = rng.normal(size=(16, 3)), rng.normal(size=(16, 2))
    return net.check_features(X), net.backend.asarray(y, net.dtype)


def _writeable(bk):
    if not bk.writeable:
        pytest.skip(f"{bk.spec}: arrays are immutable, there is no parameter block")


def test_parameters_and_gradients_are_views_of_the_block(bk):
    _writeable(bk)
    net = _net(bk.spec, "float32")
    block = net.parameter_block
    assert block is not None and block.intact()
    for i, (_, _, view) in enumerate(block.value_slots):
        view[...] = float(i + 1)
    flat = pn.to_numpy(block.values)
    starts = [int(np.flatnonzero(flat == i + 1)[0]) for i in range(len(block.value_slots))]
    assert all(start * flat.itemsize % 64 == 0 for start in starts)  # each part on a 64-byte boundary
    assert int(np.count_nonzero(flat)) == net.num_parameters()  # the gaps between them hold zeros
    block.values[...] = 0.0
    assert all(float(np.abs(pn.to_numpy(v)).sum()) == 0.0 for v in net.state_dict().values())


def test_no_block_where_arrays_are_immutable(bk):
    if bk.writeable:
        pytest.skip(f"{bk.spec} updates in place")
    assert _net(bk.spec, "float32").parameter_block is None


@pytest.mark.parametrize("name", sorted(OPTIMIZERS))
def test_the_flat_update_is_the_per_parameter_update(bk64, name):
    """Same optimizer, same data: one call on the block against one call per parameter."""
    _writeable(bk64)
    nets = [_net(bk64.spec), _net(bk64.spec)]
    steps = [TrainStep(net, "mse", OPTIMIZERS[name]()) for net in nets]
    assert steps[0].optimizer.flat is not None
    steps[1].optimizer.flat = None  # the generic path
    X, y = _data(nets[0])
    for _ in range(5):
        for step in steps:
            step(X, y)
    flat, generic = (pn.to_numpy(net.parameter_block.values) for net in nets)
    np.testing.assert_allclose(flat, generic, rtol=1e-15, atol=1e-15)
    state = [step.optimizer.state_dict()["state"] for step in steps]
    for key, entries in state[0].items():
        for n, value in entries.items():
            np.testing.assert_allclose(value, state[1][key][n], rtol=1e-15, atol=1e-15)


def test_a_rebound_gradient_falls_back_to_one_update_per_parameter(bk64):
    """A hook that replaces a gradient's array (as clipping by value may) leaves the block's
    gradients stale: the optimizer must notice and update from the new arrays."""
    _writeable(bk64)
    nets = [_net(bk64.spec), _net(bk64.spec)]
    X, y = _data(nets[0])

    def rebind(parameters):
        for p in parameters:
            p.grad = bk64.xp.asarray(p.grad, copy=True) * 0.5

    def halve(parameters):
        for p in parameters:
            p.grad = bk64.imul(p.grad, 0.5)

    for net, hook in zip(nets, (rebind, halve)):
        step = TrainStep(net, "mse", pn.optim.SGD(lr=0.1, momentum=0.9), grad_hook=hook)
        for _ in range(3):
            step(X, y)
    assert not nets[0].parameter_block.intact() and nets[1].parameter_block.intact()
    np.testing.assert_array_equal(*(pn.to_numpy(net.state_dict()["0.weight"]) for net in nets))


def test_loading_and_restoring_keep_the_views(bk64):
    _writeable(bk64)
    net = _net(bk64.spec)
    state = {k: pn.to_numpy(v) + 1.0 for k, v in net.state_dict().items()}
    net.load_state_dict(state)
    assert net.parameter_block.intact()
    np.testing.assert_array_equal(pn.to_numpy(net.state_dict()["2.bias"]), state["2.bias"])
    X, y = _data(net)
    net.fit(X, y, optimizer=pn.optim.Adam(lr=0.01), epochs=2, progress=False)
    opt_state = net.optimizer.state_dict()
    net.optimizer.load_state_dict(opt_state)
    assert net.optimizer.flat is not None and net.optimizer.flat.intact()


class RecordThenCorrupt(pn.Callback):
    """Keeps a copy of the block at each epoch end, then at ``epoch`` sets it to infinity in place."""

    def __init__(self, epoch):
        self.epoch, self.seen = epoch, []

    def on_epoch_end(self, model, epoch, logs):
        values = model.parameter_block.values
        self.seen.append(pn.to_numpy(values).copy())
        if epoch == self.epoch:
            values[...] = float("inf")


def test_divergence_restores_the_last_finite_weights_through_the_block(bk64):
    _writeable(bk64)
    net = _net(bk64.spec)
    X, y = _data(net)
    corrupt = RecordThenCorrupt(2)
    with pytest.raises(pn.DivergenceError, match="non-finite at epoch 3"):
        net.fit(X, y, optimizer=pn.optim.SGD(lr=0.01), epochs=6, callbacks=[corrupt], progress=False)
    assert net.parameter_block.intact()
    np.testing.assert_array_equal(pn.to_numpy(net.parameter_block.values), corrupt.seen[2])


def test_moving_and_pickling_rebuild_the_block(bk64):
    _writeable(bk64)
    net = _net("numpy")
    X, y = _data(net)
    net.fit(X, y, optimizer=pn.optim.Adam(lr=0.01), epochs=1, progress=False)
    net.to(bk64.spec)
    copy = pickle.loads(pickle.dumps(net))
    for model in (net, copy):
        assert model.parameter_block is not None and model.parameter_block.intact()
        X2, y2 = _data(model)
        model.fit(X2, y2, epochs=1, progress=False)
        assert model.optimizer.flat is not None and model.optimizer.flat.intact()
    np.testing.assert_array_equal(pn.to_numpy(net.parameter_block.values), pn.to_numpy(copy.parameter_block.values))


def test_a_replaced_optimizer_state_is_the_one_updated(bk64):
    """Replacing the optimizer's state wholesale (as a reset does) leaves the flat state standing
    for arrays nobody reads: the update must use, and fill, the new ones."""
    _writeable(bk64)
    net = _net(bk64.spec)
    step = TrainStep(net, "mse", pn.optim.Adam(lr=0.01))
    X, y = _data(net)
    for _ in range(3):
        step(X, y)
    opt = step.optimizer
    opt.state = {key: {n: bk64.xp.zeros_like(v) for n, v in entries.items()} for key, entries in opt.state.items()}
    assert not opt.flat.intact()
    step(X, y)
    assert all(np.abs(m["m"]).sum() > 0 for m in opt.state_dict()["state"].values())


def test_replaced_gradients_rejoin_the_block_at_the_next_bind(bk64):
    _writeable(bk64)
    net = _net(bk64.spec)
    X, y = _data(net)

    def rebind(parameters):
        for p in parameters:
            p.grad = bk64.xp.asarray(p.grad, copy=True)

    TrainStep(net, "mse", pn.optim.SGD(lr=0.1), grad_hook=rebind)(X, y)
    assert not net.parameter_block.intact()
    step = TrainStep(net, "mse", pn.optim.SGD(lr=0.1))
    assert net.parameter_block.intact() and step.optimizer.flat is not None


def test_optimizer_state_of_another_shape_is_refused(bk64):
    _writeable(bk64)
    net = _net(bk64.spec)
    step = TrainStep(net, "mse", pn.optim.Adam(lr=0.01))
    step(*_data(net))
    saved = step.optimizer.state_dict()
    saved["state"]["0.weight"]["m"] = saved["state"]["0.weight"]["m"][:1]
    with pytest.raises(ValueError, match=r"state\['0.weight'\]\['m'\]: expected shape \(3, 5\), got \(1, 5\)"):
        step.optimizer.load_state_dict(saved)


def test_a_model_moved_from_jax_loads_weights_in_place(jax_bk):
    """JAX's arrays reach the host read-only: a model moved off JAX must own writeable copies."""
    net = pn.Sequential(pn.Dense(3, 4), pn.BatchNorm(4), pn.Dense(4, 2), backend=jax_bk.spec, dtype="float64")
    net.to("numpy")
    state = {k: pn.to_numpy(v) for k, v in net.state_dict().items()}
    net.load_state_dict(state)
    X, y = _data(net)
    net.fit(X, y, optimizer=pn.optim.SGD(lr=0.01), epochs=1, progress=False)
    assert net.parameter_block.intact()
