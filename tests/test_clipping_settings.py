"""Gradient clipping in the compiled JAX step, through checkpoints and pickles, on optimizers of
your own, bad settings refused, and no host read per step. Clipped values against torch and NumPy
are in test_clipping.py."""

import pickle

import numpy as np
import pytest

import portnn as pn
from portnn.nn.parameter import Parameter
from portnn.testing import NoHostSync


def fit(backend, optimizer, compile):
    rng = np.random.default_rng(0)
    X, y = 3 * rng.normal(size=(23, 4)), rng.integers(0, 3, size=23)
    net = pn.Sequential(pn.Dense(4, 6), pn.Tanh(), pn.Dense(6, 3), backend=backend, dtype="float64", seed=5)
    net.fit(X, y, loss="cross_entropy", optimizer=optimizer, epochs=3, batch_size=5, progress=False, compile=compile)
    return {key: pn.to_numpy(value) for key, value in net.state_dict().items()}, net


CLIPPINGS = [{"clipnorm": 0.05}, {"global_clipnorm": 0.05}, {"clipvalue": 0.01}, {"clipvalue": 0.02, "clipnorm": 0.05}]


@pytest.mark.parametrize("clipping", CLIPPINGS, ids=lambda c: "-".join(c))
@pytest.mark.parametrize("name", ["SGD", "Adam"])
def test_compiled_jax_step_clips_like_the_op_by_op_step(jax_bk, name, clipping):
    compiled, net = fit(jax_bk, getattr(pn.optim, name)(lr=0.05, **clipping), compile=True)
    assert net.train_step.compiled is not None  # clipping does not keep the step from compiling
    eager, _ = fit(jax_bk, getattr(pn.optim, name)(lr=0.05, **clipping), compile=False)
    on_numpy, _ = fit("numpy", getattr(pn.optim, name)(lr=0.05, **clipping), compile=False)
    unclipped, _ = fit(jax_bk, getattr(pn.optim, name)(lr=0.05), compile=True)
    for key, value in eager.items():
        np.testing.assert_allclose(compiled[key], value, rtol=1e-11, atol=1e-14)
        np.testing.assert_allclose(on_numpy[key], value, rtol=1e-11, atol=1e-14)
    assert any(not np.allclose(compiled[key], unclipped[key]) for key in compiled)


@pytest.mark.parametrize(
    "make",
    [
        lambda: pn.optim.SGD(lr=0.05, momentum=0.9, clipnorm=0.5),
        lambda: pn.optim.Adam(lr=0.02, global_clipnorm=0.1, clipvalue=0.05),
        lambda: pn.optim.AdamW(lr=0.02, clipvalue=0.01),
        lambda: pn.optim.RMSprop(lr=0.01, global_clipnorm=1),
    ],
)
def test_settings_survive_checkpoints_and_pickles(tmp_path, make):
    X, y = pn.datasets.xor()
    net = pn.Sequential(pn.Dense(2, 4), pn.Tanh(), pn.Dense(4, 1), pn.Sigmoid(), dtype="float64", seed=0)
    net.fit(X, y, optimizer=make(), epochs=3, progress=False)
    config = net.optimizer.get_config()
    assert {"clipnorm", "global_clipnorm", "clipvalue"} & set(config)
    net.save(tmp_path / "m.safetensors", include_optimizer=True)
    loaded = pn.load(tmp_path / "m.safetensors")
    assert loaded.optimizer.get_config() == config and repr(loaded.optimizer) == repr(net.optimizer)
    again = pickle.loads(pickle.dumps(net.optimizer))
    assert again.get_config() == config
    assert pn.optim.optimizer_from_state(net.optimizer.state_dict()).get_config() == config
    net.fit(X, y, optimizer=net.optimizer, epochs=2, progress=False)
    loaded.fit(X, y, optimizer=loaded.optimizer, epochs=2, progress=False)
    for key, value in net.state_dict().items():
        np.testing.assert_array_equal(loaded.state_dict()[key], value)


def test_unclipped_configs_and_reprs_are_as_before():
    assert pn.optim.SGD(lr=0.1).get_config() == {"lr": 0.1, "weight_decay": 0.0, "momentum": 0.0, "nesterov": False}
    assert repr(pn.optim.SGD(lr=0.1)) == "SGD(lr=0.1)"
    assert repr(pn.optim.Adam(clipvalue=1, global_clipnorm=2)) == "Adam(lr=0.001, global_clipnorm=2.0, clipvalue=1.0)"


def test_an_optimizer_pickled_before_clipping_existed_still_steps():
    optimizer = pn.optim.SGD(lr=0.1)
    state = optimizer.__getstate__()
    del state["clipping"]
    old = pn.optim.SGD.__new__(pn.optim.SGD)
    old.__setstate__(state)
    store, grads = {"w": np.ones(2)}, {"w": np.ones(2)}
    old.bind([Parameter("0.w", store, grads, "w")], pn.get_backend("numpy"))
    old.step()
    np.testing.assert_array_equal(store["w"], [0.9, 0.9])


def test_a_user_optimizer_gets_the_clipping_from_the_base_class():
    class SignSGD(pn.optim.Optimizer):
        def _update(self, p, g, state):
            return p - self.lr * g  # g arrives clipped

    optimizer = SignSGD(lr=1.0, clipvalue=0.25)
    store, grads = {"w": np.zeros(3)}, {"w": np.array([-2.0, 0.1, 3.0])}
    optimizer.bind([Parameter("0.w", store, grads, "w")], pn.get_backend("numpy"))
    optimizer.step()
    np.testing.assert_array_equal(store["w"], [0.25, -0.1, -0.25])


@pytest.mark.parametrize("name", ["clipnorm", "global_clipnorm", "clipvalue"])
@pytest.mark.parametrize("value", [0, -1.0, float("nan"), float("inf"), "1", True, [1.0]])
def test_bad_settings_are_refused_by_name(name, value):
    with pytest.raises(ValueError, match=rf"^{name}: expected a positive number or None"):
        pn.optim.SGD(lr=0.1, **{name: value})


def test_both_norms_are_refused_and_unknown_keywords_named():
    with pytest.raises(ValueError, match="clipnorm, global_clipnorm: set one of them, not both"):
        pn.optim.Adam(clipnorm=1.0, global_clipnorm=1.0)
    with pytest.raises(TypeError, match=r"SGD\(\) got unexpected keyword argument\(s\) 'clip_norm'"):
        pn.optim.SGD(lr=0.1, clip_norm=1.0)


@pytest.mark.parametrize("clipping", CLIPPINGS, ids=lambda c: "-".join(c))
def test_clipping_never_waits_for_the_device(spec, clipping):
    """The scales stay on the device: no host read per step (armed on GPU backends only)."""
    if not pn.get_backend(spec).syncs_with_host:
        pytest.skip(f"{spec} computes on the host: there is no device to wait for")
    X, y = pn.datasets.synthetic_classification(64, 5, 3, seed=0)
    net = pn.Sequential(pn.Dense(5, 8), pn.Tanh(), pn.Dense(8, 3), backend=spec, dtype="float32", seed=0)
    guard = NoHostSync()
    try:
        net.fit(
            X,
            y,
            loss="cross_entropy",
            optimizer=pn.optim.SGD(lr=0.1, **clipping),
            epochs=2,
            batch_size=16,
            callbacks=[guard],
            progress=False,
        )
    finally:
        guard.close()
    assert guard.entered
