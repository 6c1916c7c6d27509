"""The network owns its parameters' storage: nothing asks per step whether another copy is still
in step. Replacements go through the owner: a hook's gradients are gathered into the block, a
replaced optimizer state is taken in, a divergence restore puts the views back, the data-parallel
reduction sums the block's flat gradients."""

import numpy as np
import pytest

import portnn as pn
from portnn.nn import paramblock
from portnn.train.step import TrainStep


def _net(spec, dtype="float64"):
    return pn.Sequential(pn.Dense(3, 5), pn.Tanh(), pn.Dense(5, 2), backend=spec, dtype=dtype, seed=0)


def _data():
    rng = np.random.default_rng(0)
    return rng.normal(size=(16, 3)), rng.normal(size=(16, 2))


@pytest.mark.parametrize(
    "make",
    [
        lambda: pn.optim.SGD(lr=0.1),
        lambda: pn.optim.Adam(lr=0.01, global_clipnorm=0.5),
        lambda: pn.optim.SGD(lr=0.1, momentum=0.9, clipvalue=0.01),
    ],
)
def test_no_step_asks_whether_the_copies_are_in_step(bk, monkeypatch, make):
    """The per-step "is every array still its view" checks are gone: binding an optimizer at the
    start of a fit may look once, but a fit of three times the steps (with its divergence guard,
    clipping, the compiled step on JAX) looks no more often."""
    calls = []
    original = paramblock.all_in_place

    def counted(slots):
        calls.append(1)
        return original(slots)

    monkeypatch.setattr(paramblock, "all_in_place", counted)
    dtype = "float64" if bk.float64 else "float32"
    net = _net(bk.spec, dtype)
    X, y = _data()
    optimizer = make()
    counts = []
    for epochs in (1, 3):
        calls.clear()
        history = net.fit(X, y, optimizer=optimizer, epochs=epochs, batch_size=4, progress=False)
        counts.append(len(calls))
    assert counts[0] == counts[1] <= 4, counts
    assert np.isfinite(history.history["loss"]).all()


def test_a_hook_that_replaces_gradients_is_gathered_by_the_owner(bk64):
    if not bk64.writeable:
        pytest.skip("no parameter block: gradients are rebound, and the update reads them")
    nets = [_net(bk64.spec), _net(bk64.spec)]
    X, y = _data()
    seen = []

    def doubled(parameters):  # replaces every gradient by a new array
        for p in parameters:
            p.grad = bk64.xp.asarray(p.grad, copy=True) * 2.0
        seen.append([pn.to_numpy(p.grad).copy() for p in parameters])

    hooked = TrainStep(nets[0], "mse", pn.optim.SGD(lr=0.05, momentum=0.9), grad_hook=doubled)
    plain = TrainStep(nets[1], "mse", pn.optim.SGD(lr=0.1, momentum=0.9))  # 0.05 * 2g == 0.1 * g
    for _ in range(3):
        hooked(nets[0].check_features(X), bk64.asarray(y, nets[0].dtype))
        plain(nets[1].check_features(X), bk64.asarray(y, nets[1].dtype))
        # after the step each gradient is still the hook's array with the hook's values
        for p, value in zip(nets[0].parameters(), seen[-1]):
            np.testing.assert_array_equal(pn.to_numpy(p.grad), value)
    a, b = (pn.to_numpy(net.parameter_block.values) for net in nets)
    np.testing.assert_allclose(a, b, rtol=1e-14, atol=1e-15)


def test_a_divergence_restore_puts_the_views_back(bk64):
    if not bk64.writeable:
        pytest.skip("no parameter block")
    net = _net(bk64.spec)
    X, y = _data()

    class Replace(pn.Callback):
        def on_epoch_end(self, model, epoch, logs):
            if epoch == 1:  # a parameter replaced behind the owner's back, non-finite
                layer = model.layers[0]
                layer.params["weight"] = layer.params["weight"] * float("inf")

    with pytest.raises(pn.DivergenceError):
        net.fit(X, y, optimizer=pn.optim.SGD(lr=0.01), epochs=4, callbacks=[Replace()], progress=False)
    assert net.parameter_block.intact()
    assert np.isfinite(pn.to_numpy(net.state_dict()["0.weight"])).all()
    net.fit(X, y, optimizer=pn.optim.SGD(lr=0.01), epochs=1, progress=False)  # and trains on
    assert net.optimizer.flat is not None and net.optimizer.flat.intact()


def test_a_reset_optimizer_state_reaches_the_compiled_step(jax_bk):
    """A divergence reset replaces the optimizer's state: the compiled step reads it from the
    optimizer at every call, so it goes on with the new arrays."""
    net = _net(jax_bk.spec)
    X, y = _data()
    optimizer = pn.optim.Adam(lr=0.01)
    net.fit(X, y, optimizer=optimizer, epochs=2, progress=False)
    assert net.train_step.compiled is not None
    optimizer.state = {k: {n: jax_bk.xp.zeros_like(v) for n, v in e.items()} for k, e in optimizer.state.items()}
    net.fit(X, y, optimizer=optimizer, epochs=1, progress=False)
    assert all(np.abs(pn.to_numpy(e["m"])).sum() > 0 for e in optimizer.state.values())


def test_assigning_a_parameter_writes_into_the_block(bk64, rng):
    if not bk64.writeable:
        pytest.skip("no parameter block: assigning rebinds")
    net = _net(bk64.spec)
    weight = next(p for p in net.parameters() if p.name == "0.weight")
    new = rng.normal(size=(3, 5))
    weight.value = new  # a NumPy array: its values go into the block, on the model's backend
    assert net.parameter_block.intact()
    np.testing.assert_array_equal(pn.to_numpy(net.state_dict()["0.weight"]), new)
    X, y = _data()
    net.fit(X, y, optimizer=pn.optim.SGD(lr=0.1), epochs=1, progress=False)
    assert net.optimizer.flat is not None  # the update stays one call on the block
    assert np.max(np.abs(pn.to_numpy(net.state_dict()["0.weight"]) - new)) > 0
    with pytest.raises(ValueError, match=r"0.weight: expected an array of shape \(3, 5\), got \(2, 2\)"):
        weight.value = np.zeros((2, 2))
