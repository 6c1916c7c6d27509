"""The module paths users import from keep working after the move into subpackages."""

import importlib

import pytest

import portnn as pn

OLD_PATHS = ["optim", "losses", "metrics", "callbacks", "io", "datasets", "sklearn", "distributed", "testing"]


@pytest.mark.parametrize("name", OLD_PATHS)
def test_old_module_path_imports(name):
    if name == "sklearn":
        pytest.importorskip("sklearn", reason="portnn.sklearn needs scikit-learn")
    module = importlib.import_module(f"portnn.{name}")
    assert getattr(pn, name) is module or name == "sklearn"


def test_old_paths_are_the_new_modules():
    from portnn.callbacks import History
    from portnn.losses import MSE
    from portnn.metrics import Accuracy

    assert MSE is pn.objectives.losses.MSE is pn.MSE
    assert Accuracy is pn.objectives.metrics.Accuracy
    assert History is pn.train.callbacks.History
    assert pn.optim.SGD is pn.optim.optimizers.SGD
    assert pn.io.read is pn.io.format.read
