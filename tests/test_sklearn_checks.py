"""scikit-learn's own estimator checks on portnn's estimators, per backend, with no expected
failures. Backends absent here are skipped with a reason."""

import importlib.util
import unittest

import pytest

pytest.importorskip("sklearn")
pytest.importorskip("scipy")

from sklearn.utils.estimator_checks import parametrize_with_checks

from portnn import testing
from portnn.sklearn import MLPClassifier, MLPRegressor

# The GPU backends run where a GPU is lent, and are skipped with the reason elsewhere.
BACKENDS = (None, "array_api_strict", "torch:cpu", "torch:cuda", "cupy:0")
USABLE = [b for b in BACKENDS if b is None or not testing.backend_skip_reason(b)]
# Reasons a check may skip: array libraries or hardware this machine lacks, polars (not a test
# dependency), pandas only where it is not installed (CI installs it: the DataFrame checks run
# there), and the one method scikit-learn's MLPClassifier does not have either.
ALLOWED_SKIPS = (
    "is not installed: not checking array_api input",
    "requires cuda, which is not available",
    "no XPU device is available",
    "PYTORCH_ENABLE_MPS_FALLBACK is not set",
    "MPS is not available",
    "polars is not installed",
    "does not have a decision_function method",
    *(() if importlib.util.find_spec("pandas") else ("pandas is not installed",)),
)


def with_checking_params(cls, backend):
    # scikit-learn's own settings for its MLPs in these checks (max_iter=100).
    return cls(max_iter=100, backend=backend)


if len(USABLE) < len(BACKENDS):

    @pytest.mark.parametrize("backend", [b for b in BACKENDS if b not in USABLE])
    def test_backend_missing(backend):
        pytest.skip(testing.backend_skip_reason(backend) or "")


@parametrize_with_checks([with_checking_params(cls, b) for b in USABLE for cls in (MLPClassifier, MLPRegressor)])
def test_sklearn_compatible_estimator(estimator, check):
    try:
        check(estimator)
    except unittest.SkipTest as skip:
        # Only missing hardware or libraries may skip a check; any other skip is a failure.
        if not any(reason in str(skip) for reason in ALLOWED_SKIPS):
            pytest.fail(f"check skipped for a reason other than missing hardware: {skip}")
        raise
