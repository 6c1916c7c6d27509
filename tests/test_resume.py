"""Exact resume: a run interrupted at any moment — an exception, or SIGKILL at 20 and more points
before, during and after backup writes and mid-epoch — and started again ends bit-identical to a
run never interrupted; a saved model with its optimizer continues exactly too."""

import json
import pathlib
import subprocess
import sys

import numpy as np
import pytest

import portnn as pn
from portnn.testing import backend_skip_reason

WORKER = pathlib.Path(__file__).with_name("resume_worker.py")
EXACT = [("numpy", "float64"), ("numpy", "float32"), ("torch:cpu", "float32"), ("array_api_strict", "float64")]


def needs(spec):
    reason = backend_skip_reason(spec)
    if reason:
        pytest.skip(reason)


def data():
    rng = np.random.default_rng(0)
    return rng.normal(size=(24, 3)), rng.normal(size=(24, 2))


def network(spec, dtype):
    return pn.Sequential(pn.Dense(3, 8), pn.Tanh(), pn.Dropout(0.25), pn.Dense(8, 2), backend=spec, dtype=dtype, seed=3)


def train(net, epochs, **kwargs):
    X, y = data()
    return net.fit(X, y, loss="mse", epochs=epochs, batch_size=5, progress=False, **kwargs)


def host(net):
    return {k: pn.to_numpy(v) for k, v in net.state_dict().items()}


def assert_same(a, b):
    assert a.keys() == b.keys()
    for key in a:
        np.testing.assert_array_equal(a[key], b[key], err_msg=key)


@pytest.mark.parametrize("spec, dtype", EXACT)
def test_save_with_optimizer_load_and_fit_continues_exactly(spec, dtype, tmp_path):
    needs(spec)
    straight = network(spec, dtype)
    full = train(straight, 10, optimizer=pn.optim.Adam(lr=0.01)).history["loss"]
    first = network(spec, dtype)
    head = train(first, 5, optimizer=pn.optim.Adam(lr=0.01)).history["loss"]
    first.save(tmp_path / "m.safetensors", include_optimizer=True)
    again = pn.load(tmp_path / "m.safetensors", backend=spec)
    assert isinstance(again.optimizer, pn.optim.Adam) and again.optimizer.steps == 25
    tail = train(again, 5).history["loss"]  # no optimizer given: the loaded one goes on
    assert head + tail == full
    assert_same(host(again), host(straight))


class Interrupt(Exception):
    pass


class InterruptAt(pn.Callback):
    def __init__(self, epoch):
        self.epoch = epoch

    def on_epoch_end(self, model, epoch, logs):
        if epoch == self.epoch:
            raise Interrupt


@pytest.mark.parametrize("spec, dtype", EXACT)
def test_backup_and_restore_after_an_exception(spec, dtype, tmp_path):
    needs(spec)
    path = tmp_path / "run.backup"
    straight = network(spec, dtype)
    full = train(straight, 6, optimizer=pn.optim.Adam(lr=0.01))
    with pytest.raises(Interrupt):
        train(
            network(spec, dtype),
            6,
            optimizer=pn.optim.Adam(lr=0.01),
            callbacks=[pn.BackupAndRestore(path), InterruptAt(2)],
        )
    assert path.exists()
    resumed_net = network(spec, dtype)
    resumed = train(resumed_net, 6, optimizer=pn.optim.Adam(lr=0.01), callbacks=[pn.BackupAndRestore(path)])
    assert resumed.history == full.history and resumed.epoch == full.epoch == list(range(6))
    assert_same(host(resumed_net), host(straight))
    assert not path.exists()  # a completed run removes its backup


def test_a_backup_that_does_not_fit_is_refused_not_overwritten(tmp_path):
    path = tmp_path / "run.backup"
    with pytest.raises(Interrupt):
        train(network("numpy", "float64"), 4, optimizer="adam", callbacks=[pn.BackupAndRestore(path), InterruptAt(0)])
    before = path.read_bytes()
    other = pn.Sequential(pn.Dense(3, 4), pn.Tanh(), pn.Dense(4, 2), dtype="float64", seed=3)
    with pytest.raises(ValueError, match="another architecture"):
        train(other, 4, optimizer="adam", callbacks=[pn.BackupAndRestore(path)])
    with pytest.raises(ValueError, match=r"made with Adam.*this fit uses SGD"):
        train(network("numpy", "float64"), 4, optimizer="sgd", callbacks=[pn.BackupAndRestore(path)])
    with pytest.raises(ValueError, match="another dtype"):
        train(network("numpy", "float32"), 4, optimizer="adam", callbacks=[pn.BackupAndRestore(path)])
    assert path.read_bytes() == before


def test_backup_arguments_are_checked_before_training(tmp_path):
    with pytest.raises(ValueError, match="every: expected an int >= 1"):
        pn.BackupAndRestore(tmp_path / "b", every=0)
    with pytest.raises(ValueError, match="does not exist"):
        pn.BackupAndRestore(tmp_path / "missing" / "b")
    with pytest.raises(ValueError, match="is a folder"):
        pn.BackupAndRestore(tmp_path)


def run_worker(spec, dtype, backup, out, kill=""):
    args = [sys.executable, str(WORKER), spec, dtype, str(backup), str(out)] + ([kill] if kill else [])
    return subprocess.run(args, capture_output=True, text=True, timeout=120)


def result(out):
    with np.load(out) as f:
        return {k: f[k] for k in f.files if k != "history"}, json.loads(str(f["history"]))


KILLS_FLOAT64 = [f"step:{n}" for n in (1, 3, 5, 6, 8, 12, 16, 21, 25, 29, 30)] + [
    f"{when}:{n}" for n in (1, 3, 6) for when in ("before", "during", "after")
]
KILLS_OTHERS = ["step:9", "during:2", "after:4"]
CASES = [("numpy", "float64", k) for k in KILLS_FLOAT64] + [(s, d, k) for s, d in EXACT[1:] for k in KILLS_OTHERS]


@pytest.fixture(scope="module")
def references(tmp_path_factory):
    return {}


@pytest.mark.parametrize("spec, dtype, kill", CASES)
def test_sigkill_anywhere_then_restart_is_bit_identical(spec, dtype, kill, tmp_path, references):
    needs(spec)
    if (spec, dtype) not in references:
        ref_out = tmp_path / "reference.npz"
        done = run_worker(spec, dtype, tmp_path / "reference.backup", ref_out)
        assert done.returncode == 0, done.stderr
        references[spec, dtype] = result(ref_out)
    backup, out = tmp_path / "run.backup", tmp_path / "out.npz"
    killed = run_worker(spec, dtype, backup, out, kill)
    assert killed.returncode == -9, f"the worker was meant to die at {kill}: {killed.stderr}"
    restarted = run_worker(spec, dtype, backup, out)
    assert restarted.returncode == 0, restarted.stderr
    weights, history = result(out)
    ref_weights, ref_history = references[spec, dtype]
    assert history == ref_history
    assert_same(weights, ref_weights)
    assert not backup.exists()
    assert not list(tmp_path.glob(".run.backup.*.tmp"))  # a crash's temporary file was cleared
