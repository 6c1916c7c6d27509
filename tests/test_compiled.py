"""Compiled training steps (JAX): the same training as op by op, and nothing traced left behind."""

import numpy as np
import pytest

import portnn as pn
from portnn.objectives.losses import get_loss
from portnn.train.step import TrainStep

OPTIMIZERS = [
    lambda: pn.optim.SGD(lr=0.1),
    lambda: pn.optim.SGD(lr=0.05, momentum=0.9, nesterov=True, weight_decay=0.01),
    lambda: pn.optim.Adam(lr=0.01),
    lambda: pn.optim.AdamW(lr=0.01),
    lambda: pn.optim.RMSprop(lr=0.01, weight_decay=0.01),
]


def classifier(backend, *extra):
    return pn.Sequential(pn.Dense(4, 6), pn.Tanh(), *extra, pn.Dense(6, 3), backend=backend, dtype="float64", seed=5)


def train(backend, make_optimizer, compile, epochs=3, callbacks=()):
    rng = np.random.default_rng(0)
    X, y = rng.normal(size=(23, 4)), rng.integers(0, 3, size=23)
    net, optimizer = classifier(backend), make_optimizer()
    history = net.fit(
        X,
        y,
        loss="cross_entropy",
        optimizer=optimizer,
        epochs=epochs,
        batch_size=5,  # a last batch of 3 rows: a second trace
        progress=False,
        compile=compile,
        callbacks=callbacks,
    )
    return net, optimizer, history


def host(state):
    return {k: pn.to_numpy(v) for k, v in state.items()}


@pytest.mark.parametrize("make_optimizer", OPTIMIZERS)
def test_compiled_and_op_by_op_training_agree(jax_bk, make_optimizer):
    compiled, opt_c, hist_c = train(jax_bk, make_optimizer, compile=True)
    eager, opt_e, hist_e = train(jax_bk, make_optimizer, compile=False)
    assert opt_c.steps == opt_e.steps == 15
    np.testing.assert_allclose(hist_c.history["loss"], hist_e.history["loss"], rtol=1e-12)
    for key, value in host(eager.state_dict()).items():
        np.testing.assert_allclose(pn.to_numpy(compiled.state_dict()[key]), value, rtol=1e-11, atol=1e-14)
    for key in opt_e.state:
        for name, value in opt_e.state[key].items():
            np.testing.assert_allclose(pn.to_numpy(opt_c.state[key][name]), pn.to_numpy(value), atol=1e-12)


def test_nothing_traced_is_left_on_the_model_or_optimizer(jax_bk):
    import jax

    net, optimizer, _ = train(jax_bk, OPTIMIZERS[0], compile=True)
    arrays = [a for layer in net.layers for a in (*layer.params.values(), *layer.grads.values())]
    arrays += [a for state in optimizer.state.values() for a in state.values()]
    assert arrays and all(isinstance(a, jax.Array) and not isinstance(a, jax.core.Tracer) for a in arrays)
    assert optimizer._lr_array is None
    # and the model goes on eagerly: predict, value_and_grad, another optimizer
    pn.value_and_grad(net, "cross_entropy", np.ones((2, 4)), np.array([0, 1]))
    net.fit(np.ones((4, 4)), np.array([0, 1, 2, 0]), loss="cross_entropy", optimizer="adam", progress=False)


def test_a_changed_learning_rate_is_followed(jax_bk):
    class Halve(pn.Callback):
        def on_epoch_end(self, model, epoch, logs):
            model.optimizer.lr *= 0.5

    compiled = train(jax_bk, OPTIMIZERS[0], compile=True, callbacks=[Halve()])[0]
    eager = train(jax_bk, OPTIMIZERS[0], compile=False, callbacks=[Halve()])[0]
    for key, value in host(eager.state_dict()).items():
        np.testing.assert_allclose(pn.to_numpy(compiled.state_dict()[key]), value, rtol=1e-11)


def compiled_step(net, loss, optimizer):
    """The compiled code a TrainStep made for these settings, or None where it runs op by op."""
    return TrainStep(net, loss, optimizer).compiled


def test_the_compiled_step_is_reused_by_later_fits(jax_bk):
    net = classifier(jax_bk)
    loss = get_loss("cross_entropy")
    first = TrainStep.reuse(None, net, loss, pn.optim.SGD(lr=0.1))
    compiled = first.compiled
    second = TrainStep.reuse(first, net, get_loss("cross_entropy"), pn.optim.SGD(lr=0.1))
    assert compiled is not None and second.compiled is compiled
    third = TrainStep.reuse(second, net, loss, pn.optim.SGD(lr=0.2))
    assert third.compiled is not compiled  # another setting: traced anew


def test_later_fits_reuse_the_compiled_step(jax_bk):
    net, _, _ = train(jax_bk, OPTIMIZERS[0], compile=True)
    compiled = net.train_step.compiled
    net.fit(
        np.ones((5, 4)), np.array([0, 1, 2, 0, 1]), loss="cross_entropy", optimizer=pn.optim.SGD(lr=0.1), progress=False
    )
    assert compiled is not None and net.train_step.compiled is compiled


def test_what_cannot_be_traced_runs_op_by_op(jax_bk):
    loss = get_loss("mse")
    net = classifier(jax_bk, pn.Dropout(0.2))
    assert compiled_step(net, loss, pn.optim.SGD(lr=0.1)) is None
    net = classifier(jax_bk)
    assert compiled_step(net, loss, pn.optim.SGD(lr=pn.optim.exponential_decay(0.1, 0.9))) is None
    assert TrainStep(net, loss, pn.optim.SGD(lr=0.1), grad_hook=lambda params: None).compiled is None


@pytest.mark.parametrize("spec", ["numpy", "array_api_strict"])
def test_other_backends_run_op_by_op(spec):
    net = classifier(spec)
    assert compiled_step(net, get_loss("mse"), pn.optim.SGD(lr=0.1)) is None


def test_compile_must_be_a_bool():
    with pytest.raises(TypeError, match="compile: expected True or False"):
        classifier("numpy").fit(np.ones((2, 4)), np.array([0, 1]), loss="cross_entropy", compile="yes")


def test_no_device_array_is_baked_into_the_compiled_step(jax_bk):
    """A device array captured by the traced step is read back to the host to be embedded in the
    program: a device-to-host transfer at every trace, which the GPU transfer guard refuses. The
    activations' constants and the optimizer's are host scalars or traced inputs instead."""
    array_module = pytest.importorskip("jax._src.array")
    mlir = pytest.importorskip("jax._src.interpreters.mlir")
    captured = []

    def record(value, *args, **kwargs):
        captured.append(value)
        return array_module._array_mlir_constant_handler(value, *args, **kwargs)

    mlir.register_constant_handler(array_module.ArrayImpl, record)
    try:
        X, y = pn.datasets.synthetic_classification(64, 5, 3, seed=0)
        layers = (pn.Dense(5, 8), pn.Tanh(), pn.Dense(8, 8), pn.Sigmoid(), pn.LayerNorm(8), pn.Dense(8, 3))
        net = pn.Sequential(*layers, backend=jax_bk, dtype="float32", seed=0)
        optimizer = pn.optim.Adam(lr=0.01, clipnorm=1.0, weight_decay=0.1)
        net.fit(X, y, loss="cross_entropy", optimizer=optimizer, epochs=1, batch_size=16, progress=False)
    finally:
        mlir.register_constant_handler(array_module.ArrayImpl, array_module._array_mlir_constant_handler)
    assert captured == []


class Corrupt(pn.Callback):
    """Sets the first weight to infinity at the end of epoch 1 (rebinding: JAX arrays are immutable)."""

    def on_epoch_end(self, model, epoch, logs):
        if epoch == 1:
            layer = model.layers[0]
            layer.params["weight"] = layer.params["weight"] * float("inf")


def test_the_compiled_step_follows_an_optimizer_reset(jax_bk):
    """After a divergence the optimizer's state is reset; the model's step, called directly, must
    use the fresh state, not the non-finite moments it was traced with."""
    X, y = pn.datasets.synthetic_classification(64, 4, 3, seed=0)
    net = classifier(jax_bk)
    with pytest.raises(pn.DivergenceError):
        net.fit(
            X,
            y,
            loss="cross_entropy",
            optimizer=pn.optim.Adam(lr=0.01),
            epochs=4,
            callbacks=[Corrupt()],
            progress=False,
        )
    Xd, yd = (
        net.check_features(X),
        get_loss("cross_entropy").prepare_target(net.xp, net.backend.asarray(y), (64, 3), net.dtype),
    )
    assert np.isfinite(float(net.train_step(Xd, yd)))
    assert all(np.isfinite(pn.to_numpy(v)).all() for v in net.state_dict().values())
