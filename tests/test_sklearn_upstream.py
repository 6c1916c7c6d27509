"""scikit-learn's own tests of its MLPs (``sklearn/neural_network/tests/test_mlp.py``, as installed),
run against portnn's estimators with only the import swapped. The file is generated into a
temporary folder at test time, never copied into the project.

Left out, as tests of scikit-learn's private methods rather than of the estimators:

- ``test_gradient``: calls ``_loss_grad_lbfgs(packed, X, y, sample_weight, activations, deltas,
  coef_grads, intercept_grads)``, scikit-learn's internal lbfgs callback with its preallocated
  buffers; portnn's lbfgs gets loss and gradient elsewhere (its own gradient checks are in
  test_sklearn_parity and test_sklearn_exact).
"""

import os
import subprocess
import sys
from pathlib import Path

import pytest

sklearn = pytest.importorskip("sklearn")

UPSTREAM = Path(sklearn.__file__).parent / "neural_network" / "tests" / "test_mlp.py"
IMPORT = "from sklearn.neural_network import MLPClassifier, MLPRegressor\n"
PRIVATE = ["test_gradient"]


def test_sklearns_own_mlp_tests_pass_on_portnn(tmp_path):
    if not UPSTREAM.exists():
        pytest.skip(f"scikit-learn's tests are not installed here ({UPSTREAM})")
    source = UPSTREAM.read_text()
    assert source.count(IMPORT) == 1, "scikit-learn's test file imports its MLPs another way now"
    target = tmp_path / "test_mlp_portnn.py"
    target.write_text(source.replace(IMPORT, "from portnn.sklearn import MLPClassifier, MLPRegressor\n"))
    deselect = [f"--deselect={target.name}::{name}" for name in PRIVATE]
    # scikit-learn's conftest as a plugin: its fixtures (global_random_seed) and warning settings
    command = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-p", "sklearn.conftest"]
    command += ["--rootdir", str(tmp_path), *deselect, target.name]
    run = subprocess.run(command, cwd=tmp_path, capture_output=True, text=True, env=dict(os.environ), timeout=900)
    assert run.returncode == 0, run.stdout[-4000:] + run.stderr[-2000:]
    assert " passed" in run.stdout and "failed" not in run.stdout
