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
    assert "FeatureScale" in pn.layers.LAYERS and "huber" in pn.losses.LOSSES
    np.testing.assert_array_equal(pn.to_numpy(scope["again"](X)), pn.to_numpy(net(X)))
