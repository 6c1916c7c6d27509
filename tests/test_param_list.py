"""Where arrays are not writeable (JAX) the network's ParameterList owns its parameters, their
gradients and its buffers: the compiled step, the rebinding optimizer update, the divergence
guard, loading and ``Parameter.value`` read and replace them through it, and what it reads is what
the layers compute with."""

import pickle

import numpy as np
import pytest

import portnn as pn
from portnn.nn.paramlist import ParameterList
from portnn.train.step import TrainStep


def _net(spec, dtype="float64", norm=False):
    layers = [pn.Dense(3, 5), pn.Tanh(), *([pn.BatchNorm(5)] if norm else []), pn.Dense(5, 2)]
    return pn.Sequential(*layers, backend=spec, dtype=dtype, seed=0)


def _data():
    rng = np.random.default_rng(0)
    return rng.normal(size=(16, 3)), rng.normal(size=(16, 2))


def _count(owner, *names):
    """Counts the calls of ``owner``'s methods ``names`` (wrapped on the instance)."""
    calls = dict.fromkeys(names, 0)
    for name in names:
        method = getattr(owner, name)

        def counted(*args, _name=name, _method=method):
            calls[_name] += 1
            return _method(*args)

        setattr(owner, name, counted)
    return calls


def test_one_owner_per_backend_kind(bk):
    net = _net(bk.spec, "float64" if bk.float64 else "float32")
    if bk.writeable:
        assert net.parameter_list is None and net.parameter_owner is net.parameter_block is not None
    else:
        assert net.parameter_block is None and isinstance(net.parameter_owner, ParameterList)
    assert all(p.owner is net.parameter_owner for p in net.parameters())


def test_the_list_reads_what_the_layers_hold(jax_bk):
    net = _net(jax_bk.spec, norm=True)
    owner = net.parameter_list
    assert owner.names == [p.name for p in net.parameters()]
    assert all(a is p.value for a, p in zip(owner.values(), net.parameters()))
    assert all(a is b.value for a, b in zip(owner.buffers(), net.buffers()))
    new = jax_bk.xp.zeros((3, 5), dtype=net.dtype)
    net.layers[0].params["weight"] = new  # rebound behind the owner's back: there is no copy to go stale
    assert owner.values()[0] is new and owner.arrays()[0] is new


def test_replacing_through_the_list_rebinds_the_layers(jax_bk):
    net = _net(jax_bk.spec, norm=True)
    owner, xp = net.parameter_list, jax_bk.xp
    owner.set_values([v + 1.0 for v in owner.values()])
    np.testing.assert_array_equal(pn.to_numpy(net.layers[0].params["bias"]), np.ones(5))
    owner.set_buffers([xp.zeros_like(b) + 2.0 for b in owner.buffers()])
    np.testing.assert_array_equal(pn.to_numpy(net.layers[2].buffers["running_mean"]), np.full(5, 2.0))
    owner.set_value("3.bias", xp.zeros(2, dtype=net.dtype) + 3.0)
    np.testing.assert_array_equal(pn.to_numpy(net.state_dict()["3.bias"]), np.full(2, 3.0))
    with pytest.raises(ValueError, match="expected 6 arrays, got 5"):  # (BatchNorm's weight and bias too)
        owner.set_values(owner.values()[:5])


def test_assigning_and_loading_go_through_the_list(jax_bk):
    net = _net(jax_bk.spec)
    calls = _count(net.parameter_list, "set_value")
    weight = net.parameters()[0]
    weight.value = jax_bk.asarray(np.ones((3, 5)), net.dtype)
    assert calls["set_value"] == 1
    net.load_state_dict({k: np.zeros(tuple(v.shape)) for k, v in net.state_dict().items()})
    assert calls["set_value"] == 5  # and the four parameters of the state
    assert all(np.all(pn.to_numpy(v) == 0) for v in net.parameter_list.values())


def test_the_compiled_step_reads_and_installs_through_the_list(jax_bk):
    net = _net(jax_bk.spec, norm=True)
    calls = _count(net.parameter_list, "arrays", "set_arrays")
    X, y = _data()
    net.fit(X, y, optimizer=pn.optim.Adam(lr=0.01), epochs=2, batch_size=4, progress=False)
    assert net.train_step.compiled is not None
    assert calls["arrays"] >= 8 and calls["set_arrays"] >= 8  # each of the 8 steps, at least
    assert not hasattr(net.train_step.compiled, "slots")  # no list of its own


@pytest.mark.parametrize(
    "make",
    [
        lambda: pn.optim.SGD(lr=0.1, momentum=0.9),
        lambda: pn.optim.Adam(lr=0.01, clipnorm=0.5),
        lambda: pn.optim.RMSprop(lr=0.01, weight_decay=0.1),
    ],
)
def test_the_rebinding_update_through_the_list_is_the_per_parameter_one(jax_bk, make):
    """Bound to the network, the update replaces all parameters in one call to the list; bound
    to loose parameters, it replaces each: the numbers are the same, bit for bit."""
    X, y = _data()
    results = []
    for owned in (True, False):
        net = _net(jax_bk.spec)
        step = TrainStep(net, "mse", make(), compile=False)
        if not owned:
            step.optimizer.bind(net.parameters(), net.backend)  # no owner: one parameter at a time
        assert (step.optimizer.parameter_list is net.parameter_list) is owned
        calls = _count(net.parameter_list, "set_values")
        Xd, yd = net.check_features(X), jax_bk.asarray(y, net.dtype)
        for _ in range(3):
            step(Xd, yd)
        assert calls["set_values"] == (3 if owned else 0)
        results.append([pn.to_numpy(v) for v in net.parameter_list.values()])
    for a, b in zip(*results):
        np.testing.assert_array_equal(a, b)


def test_a_divergence_restore_goes_through_the_list(jax_bk):
    net = _net(jax_bk.spec, norm=True)
    X, y = _data()

    class Corrupt(pn.Callback):
        def on_epoch_end(self, model, epoch, logs):
            if epoch == 1:
                layer = model.layers[0]
                layer.params["weight"] = layer.params["weight"] * float("inf")

    calls = _count(net.parameter_list, "set_values", "set_buffers")
    with pytest.raises(pn.DivergenceError):
        net.fit(X, y, optimizer=pn.optim.SGD(lr=0.01), epochs=4, callbacks=[Corrupt()], progress=False)
    assert calls["set_buffers"] == 1  # the restore (only the guard replaces the buffers)
    assert all(np.isfinite(pn.to_numpy(a)).all() for a in net.parameter_list.values())
    net.fit(X, y, optimizer=pn.optim.SGD(lr=0.01), epochs=1, progress=False)  # and trains on
    assert all(np.isfinite(pn.to_numpy(a)).all() for a in net.parameter_list.values())


def test_moving_and_unpickling_make_the_owner_again(jax_bk):
    net = _net(jax_bk.spec)
    X, y = _data()
    net.fit(X, y, optimizer=pn.optim.SGD(lr=0.1), epochs=1, progress=False)
    net.to("numpy")
    assert net.parameter_list is None and net.optimizer.parameter_list is None
    assert net.optimizer.flat is not None  # the block's
    net.to(jax_bk.spec)
    assert net.parameter_block is None and net.optimizer.parameter_list is net.parameter_list
    copy = pickle.loads(pickle.dumps(net))
    assert copy.parameter_list is not None and copy.parameter_list is not net.parameter_list
    assert all(p.owner is copy.parameter_list for p in copy.parameters())
    np.testing.assert_array_equal(pn.to_numpy(copy(X)), pn.to_numpy(net(X)))
