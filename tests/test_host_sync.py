"""An epoch never waits for the device: the host only reads the loss once per epoch.

On GPU backends the check is armed by :class:`portnn.testing.NoHostSync`; on host backends there is
no device to wait for, and the tests skip.
"""

import numpy as np
import pytest

import portnn as pn
from portnn.testing import NoHostSync


def _device_backend(spec):
    bk = pn.get_backend(spec)
    if not bk.syncs_with_host:
        pytest.skip(f"{spec} computes on the host: there is no device to wait for")
    return bk


def test_the_check_catches_a_host_read(spec):
    bk = _device_backend(spec)
    x = bk.asarray(np.arange(6.0).reshape(2, 3), bk.dtype("float32"))
    with bk.host_sync_forbidden():
        with pytest.raises(RuntimeError):
            float(bk.xp.sum(x))
        assert bk.read(bk.xp.sum(x)) == 15.0  # the deliberate read is allowed
    assert float(bk.xp.sum(x)) == 15.0  # and outside the context everything is as before


def test_the_epoch_reader_reads_what_read_does(spec):
    """``reader`` (the fit loop's once-per-epoch read) gives ``read``'s value on every backend, and
    stays a deliberate read where host reads are forbidden."""
    bk = pn.get_backend(spec)
    x = bk.xp.sum(bk.asarray(np.arange(6.0).reshape(2, 3), bk.dtype("float32")))
    read_float, read_bool = bk.reader(float), bk.reader(bool)
    assert read_float(x) == bk.read(x) == 15.0 and type(read_float(x)) is float
    assert read_bool(x) is True
    with bk.host_sync_forbidden():
        assert read_float(x) == 15.0


@pytest.mark.parametrize("dropout", [0.0, 0.25], ids=["plain", "dropout"])
def test_an_epoch_never_waits_for_the_device(spec, dropout):
    _device_backend(spec)
    X, y = pn.datasets.synthetic_classification(256, 20, 3, seed=0)
    layers = [pn.Dense(20, 32), pn.ReLU(), pn.Dropout(dropout), pn.Dense(32, 3)]
    net = pn.Sequential(*layers, backend=spec, dtype="float32", seed=0)
    guard = NoHostSync()
    try:
        history = net.fit(
            X,
            y,
            loss="cross_entropy",
            optimizer=pn.optim.Adam(lr=1e-3),
            epochs=3,
            batch_size=16,
            validation_data=(X[:32], y[:32]),
            callbacks=[guard],
            progress=False,
        )
    finally:
        guard.close()
    assert guard.entered
    assert len(history.history["loss"]) == 3 and np.isfinite(history.history["val_loss"]).all()


@pytest.mark.parametrize("compile", [True, False], ids=["compiled", "eager"])
def test_metrics_and_weights_never_wait_for_the_device(spec, compile):
    """Metrics, sample and class weights, validation metrics: still one read per epoch."""
    _device_backend(spec)
    X, y = pn.datasets.synthetic_classification(256, 20, 3, seed=0)
    weight = np.random.default_rng(0).uniform(0.0, 2.0, 256)
    net = pn.Sequential(pn.Dense(20, 32), pn.ReLU(), pn.Dense(32, 3), backend=spec, dtype="float32", seed=0)
    guard = NoHostSync()
    try:
        history = net.fit(
            X, y, loss="cross_entropy", optimizer=pn.optim.Adam(lr=1e-3), epochs=3, batch_size=16,
            metrics=["accuracy", pn.TopKAccuracy(2), "r2"], sample_weight=weight, class_weight={0: 2.0},
            validation_data=(X[:32], y[:32], weight[:32]), callbacks=[guard], compile=compile, progress=False,
        )  # fmt: skip
    finally:
        guard.close()
    assert guard.entered
    assert np.isfinite(history.history["val_accuracy"]).all() and len(history.history["r2"]) == 3
