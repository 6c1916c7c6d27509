"""LayerNorm and BatchNorm: parity with PyTorch (forward, backward, running statistics), buffers
saved, moved and never optimized, inference on running statistics, training on every backend,
the compiled JAX step, and argument checks."""

import numpy as np
import pytest

import portnn as pn
from portnn.testing import assert_close, assert_on_backend

N = 5
KINDS = {
    "LayerNorm": ({"eps": 1e-5}, {"eps": 1e-3}),
    "BatchNorm": ({"momentum": 0.1, "eps": 1e-5}, {"momentum": 0.3, "eps": 1e-3}),
}
# float64 parity with PyTorch: what the tests ask (rtol, atol); measured errors are ~1e-15.
RTOL, ATOL = 1e-12, 1e-13


def torch_module(kind, weight, bias, **kwargs):
    torch = pytest.importorskip("torch", reason="torch is not installed: no PyTorch reference")
    cls = torch.nn.LayerNorm if kind == "LayerNorm" else torch.nn.BatchNorm1d
    module = cls(N, **kwargs).double()
    with torch.no_grad():
        module.weight.copy_(torch.from_numpy(weight))
        module.bias.copy_(torch.from_numpy(bias))
    return module


def torch_step(module, X, R, training):
    import torch

    module.train(training)
    module.zero_grad()
    x = torch.tensor(X, requires_grad=True)
    y = module(x)
    y.backward(torch.from_numpy(R))
    return [t.detach().numpy() for t in (y, x.grad, module.weight.grad, module.bias.grad)]


def portnn_layer(kind, backend, weight, bias, **kwargs):
    layer = getattr(pn, kind)(N, **kwargs)
    net = pn.Sequential(layer, backend=backend, dtype="float64")
    net.load_state_dict({**net.state_dict(), "0.weight": weight, "0.bias": bias})
    return net, layer


def portnn_step(layer, bk, X, R, training):
    Y, backprop = layer.forward(bk.asarray(X, layer.dtype), training)
    dX = backprop(bk.asarray(R, layer.dtype))
    outputs = [Y, dX, layer.grads["weight"], layer.grads["bias"]]
    for array in outputs:
        assert_on_backend(array, bk)
    return [pn.to_numpy(a) for a in outputs]


@pytest.mark.parametrize("kind", sorted(KINDS))
@pytest.mark.parametrize("setting", [0, 1])
def test_float64_parity_with_pytorch(bk64, kind, setting):
    kwargs = KINDS[kind][setting]
    rng = np.random.default_rng(setting)
    weight, bias = rng.normal(size=N), rng.normal(size=N)
    module = torch_module(kind, weight, bias, **kwargs)
    net, layer = portnn_layer(kind, bk64, weight, bias, **kwargs)
    names = ("output", "input gradient", "weight gradient", "bias gradient")
    # training steps on batches of several sizes (2 rows: the smallest BatchNorm trains on), then inference
    for i, (rows, training) in enumerate([(7, True), (2, True), (9, True), (4, True), (6, False), (1, False)]):
        X = rng.normal(size=(rows, N)) * rng.uniform(0.5, 3.0, size=N) + rng.normal(size=N) * 2
        R = rng.normal(size=(rows, N))
        ours, theirs = portnn_step(layer, bk64, X, R, training), torch_step(module, X, R, training)
        for name, a, b in zip(names, ours, theirs):
            np.testing.assert_allclose(a, b, rtol=RTOL, atol=ATOL, err_msg=f"{kind} step {i} ({training=}): {name}")
    if kind == "BatchNorm":
        state = net.state_dict()
        for name in ("running_mean", "running_var"):
            theirs = getattr(module, name).numpy()
            np.testing.assert_allclose(pn.to_numpy(state[f"0.{name}"]), theirs, rtol=RTOL, atol=ATOL, err_msg=name)
        assert int(module.num_batches_tracked) == 4


def trained_model(backend, dtype="float64", epochs=5):
    rng = np.random.default_rng(3)
    X, y = rng.normal(size=(40, 3)) * 2 + 1, rng.integers(0, 2, size=40)
    net = pn.Sequential(pn.Dense(3, 4), pn.BatchNorm(4), pn.ReLU(), pn.Dense(4, 2), backend=backend, dtype=dtype)
    net.fit(X, y, loss="cross_entropy", optimizer="adam", epochs=epochs, batch_size=8, progress=False)
    return net, X


def running_stats(net):
    return {k: pn.to_numpy(v) for k, v in net.state_dict().items() if "running" in k}


def test_buffers_are_saved_loaded_and_moved(bk, tmp_path):
    net, X = trained_model(bk, "float32")
    stats = running_stats(net)
    assert sorted(stats) == ["1.running_mean", "1.running_var"]
    assert not np.allclose(stats["1.running_mean"], 0) and not np.allclose(stats["1.running_var"], 1)
    net.save(tmp_path / "bn.safetensors")
    again = pn.load(tmp_path / "bn.safetensors", backend=bk.spec)
    for key, value in running_stats(again).items():
        np.testing.assert_array_equal(value, stats[key])
    np.testing.assert_array_equal(pn.to_numpy(again(X)), pn.to_numpy(net(X)))
    net.to("array_api_strict")
    for b in net.buffers():
        assert_on_backend(b.value, "array_api_strict")
        np.testing.assert_array_equal(pn.to_numpy(b.value), stats[b.name])


def test_buffers_are_not_parameters_and_the_optimizer_never_touches_them():
    # BatchNorm first sees the same full batch every epoch: its running statistics have a closed form
    rng = np.random.default_rng(4)
    X, y = rng.normal(size=(10, 3)) * 3 - 1, rng.normal(size=(10, 1))
    net = pn.Sequential(pn.BatchNorm(3, momentum=0.2), pn.Dense(3, 1), dtype="float64")
    assert {b.name for b in net.buffers()} == {"0.running_mean", "0.running_var"}
    assert not {p.name for p in net.parameters()} & {b.name for b in net.buffers()}
    optimizer = pn.optim.AdamW(lr=0.1, weight_decay=0.5)
    net.fit(X, y, optimizer=optimizer, epochs=6, progress=False)
    assert set(optimizer.state) == {p.name for p in net.parameters()}
    kept = 0.8**6
    stats = running_stats(net)
    np.testing.assert_allclose(stats["0.running_mean"], (1 - kept) * X.mean(axis=0), rtol=1e-12)
    np.testing.assert_allclose(stats["0.running_var"], kept + (1 - kept) * X.var(axis=0, ddof=1), rtol=1e-12)


def test_inference_uses_running_statistics_training_the_batch(bk64):
    net, X = trained_model(bk64)
    layer = net.layers[1]
    full, alone = pn.to_numpy(net(X)), pn.to_numpy(net(X[:1]))
    assert_close(alone[0], full[0], err_msg="inference: a row's output depends on the other rows")
    H = pn.to_numpy(net.layers[0].forward(net.check_features(X), False)[0])
    state = {k: pn.to_numpy(v) for k, v in net.state_dict().items()}
    w, b = state["1.weight"], state["1.bias"]
    expected_eval = (H - state["1.running_mean"]) / np.sqrt(state["1.running_var"] + 1e-5) * w + b
    expected_train = (H - H.mean(axis=0)) / np.sqrt(H.var(axis=0) + 1e-5) * w + b
    assert_close(layer.forward(bk64.asarray(H, net.dtype), False)[0], expected_eval, scale=10)
    assert_close(layer.forward(bk64.asarray(H, net.dtype), True)[0], expected_train, scale=10)


def test_running_statistics_update_in_place_where_writeable(bk64):
    X = np.random.default_rng(6).normal(size=(6, N))
    results = []
    for backend in (bk64, bk64.variant(writeable=False)):
        layer = pn.Sequential(pn.BatchNorm(N), backend=backend, dtype="float64").layers[0]
        before = dict(layer.buffers)
        layer.forward(backend.asarray(X, layer.dtype), True)
        same = [layer.buffers[k] is before[k] for k in before]
        assert all(same) if backend.writeable else not any(same)
        results.append([pn.to_numpy(v) for v in layer.buffers.values()])
    for a, b in zip(*results):
        np.testing.assert_array_equal(a, b)


def test_a_batch_of_one_row_cannot_train_batchnorm():
    net = pn.Sequential(pn.Dense(2, 3), pn.BatchNorm(3), pn.Dense(3, 1))
    with pytest.raises(ValueError, match="BatchNorm needs at least 2 rows per training batch"):
        net.fit(np.ones((1, 2)), np.ones((1, 1)), progress=False)  # refused by fit, before any step
    layer = net.layers[1]
    with pytest.raises(ValueError, match="BatchNorm: training needs at least 2 rows per batch"):
        layer.forward(net.backend.asarray(np.ones((1, 3)), net.dtype), True)  # and by the layer itself
    assert net(np.ones((1, 2))).shape == (1, 1)  # inference on one row is fine


def test_a_model_with_both_layers_trains_on_every_backend(spec):
    rng = np.random.default_rng(5)
    X = rng.normal(size=(64, 4))
    y = (X[:, 0] + X[:, 1] * X[:, 2] > 0).astype(np.int64) + (X[:, 3] > 1)
    layers = [pn.Dense(4, 8), pn.BatchNorm(8), pn.ReLU(), pn.Dense(8, 8), pn.LayerNorm(8), pn.Tanh(), pn.Dense(8, 3)]
    net = pn.Sequential(*layers, backend=spec, seed=1)
    history = net.fit(
        X, y, loss="cross_entropy", optimizer=pn.optim.Adam(lr=0.02), epochs=30, batch_size=16, progress=False
    )
    losses = history.history["loss"]
    assert all(np.isfinite(losses)) and losses[-1] < 0.6 * losses[0], losses
    for b in net.buffers():
        assert_on_backend(b.value, spec)


def test_compiled_jax_step_carries_the_buffers(jax_bk):
    import jax

    bk = jax_bk
    rng = np.random.default_rng(0)
    X, y = rng.normal(size=(23, 4)), rng.integers(0, 3, size=23)

    def train(compile):
        # no bias before BatchNorm: its gradient is zero, its value rounding noise
        layers = [
            pn.Dense(4, 6, bias=False),
            pn.BatchNorm(6),
            pn.Tanh(),
            pn.Dense(6, 6),
            pn.LayerNorm(6),
            pn.Dense(6, 3),
        ]
        net = pn.Sequential(*layers, backend=bk, dtype="float64", seed=5)
        net.fit(X, y, loss="cross_entropy", optimizer="adam", epochs=3, batch_size=5, compile=compile, progress=False)
        return net

    compiled, eager = train(True), train(False)
    assert compiled.train_step.compiled is not None and eager.train_step.compiled is None
    expected = {k: pn.to_numpy(v) for k, v in eager.state_dict().items()}
    assert not np.allclose(expected["1.running_mean"], 0)
    for key, value in compiled.state_dict().items():
        np.testing.assert_allclose(pn.to_numpy(value), expected[key], rtol=1e-11, atol=1e-14, err_msg=key)
    buffers = [a for layer in compiled.layers for a in layer.buffers.values()]
    assert buffers and all(isinstance(a, jax.Array) and not isinstance(a, jax.core.Tracer) for a in buffers)
    compiled(X)  # and the model goes on eagerly


@pytest.mark.parametrize(
    ("make", "name"),
    [
        (lambda: pn.LayerNorm(0), "n"),
        (lambda: pn.BatchNorm(-3), "n"),
        (lambda: pn.LayerNorm(4, eps=0.0), "eps"),
        (lambda: pn.BatchNorm(4, eps=-1e-5), "eps"),
        (lambda: pn.BatchNorm(4, eps=float("nan")), "eps"),
        (lambda: pn.BatchNorm(4, momentum=-0.1), "momentum"),
        (lambda: pn.BatchNorm(4, momentum=1.5), "momentum"),
        (lambda: pn.BatchNorm(4, momentum="0.1"), "momentum"),
    ],
)
def test_bad_arguments_are_named(make, name):
    with pytest.raises(ValueError, match=f"^{name}: expected"):
        make()


def test_feature_count_is_checked_and_config_round_trips():
    with pytest.raises(ValueError, match="BatchNorm: expected 4 input features, the layer before gives 3"):
        pn.Sequential(pn.Dense(2, 3), pn.BatchNorm(4))
    layer = pn.BatchNorm(4, momentum=0.0, eps=1e-3)
    assert repr(layer) == "BatchNorm(n=4, momentum=0.0, eps=0.001)"
    assert pn.LayerNorm(**pn.LayerNorm(2, eps=0.5).get_config()).eps == 0.5


def test_a_diverging_run_restores_the_running_statistics_too():
    rng = np.random.default_rng(0)
    X, y = rng.normal(size=(32, 3)), 1e3 * rng.normal(size=(32, 1))
    net = pn.Sequential(pn.Dense(3, 8), pn.BatchNorm(8), pn.ReLU(), pn.Dense(8, 1), dtype="float32", seed=0)
    with pytest.raises(pn.DivergenceError):  # float32 overflows in the first epoch, statistics included
        net.fit(X, y, loss="mse", optimizer=pn.optim.SGD(lr=1e6), epochs=20, batch_size=8, progress=False)
    for buffer in net.buffers():
        assert np.isfinite(pn.to_numpy(buffer.value)).all(), buffer.name
