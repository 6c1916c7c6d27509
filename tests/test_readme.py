"""The README's examples run as written."""

import numpy as np
from readme_blocks import python_block

import portnn as pn


def test_write_your_own_layer_runs(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    scope: dict = {}
    exec(compile(python_block("## Write your own layer"), "README.md", "exec"), scope)
    net = scope["net"]
    assert (tmp_path / "scaled.safetensors").exists()
    X, y = pn.datasets.xor()
    assert float(scope["Huber"]()(net(X), net.backend.asarray(y, net.dtype))) < 0.1  # it learned XOR
    assert "FeatureScale" in pn.nn.layers.LAYERS and "huber" in pn.losses.LOSSES
    np.testing.assert_array_equal(pn.to_numpy(scope["again"](X)), pn.to_numpy(net(X)))


def test_the_digits_example_runs_and_learns(tmp_path, monkeypatch, capsys):
    import pytest

    pytest.importorskip("sklearn")
    pytest.importorskip("matplotlib")
    monkeypatch.chdir(tmp_path)
    scope: dict = {}
    exec(compile(python_block("## Coming from Keras, PyTorch or scikit-learn"), "README.md", "exec"), scope)
    assert (tmp_path / "digits.png").stat().st_size > 0
    assert scope["history"].history["val_accuracy"][-1] > 0.9
    assert "BatchNorm" in capsys.readouterr().out  # the summary was printed
