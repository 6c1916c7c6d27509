"""scikit-learn's own estimator checks on portnn's estimators, per backend, with no expected
failures. Backends absent here are skipped with a reason."""

import pytest

pytest.importorskip("sklearn")
pytest.importorskip("scipy")

from sklearn.utils.estimator_checks import parametrize_with_checks  # noqa: E402

from portnn import testing  # noqa: E402
from portnn.sklearn import MLPClassifier, MLPRegressor  # noqa: E402

BACKENDS = (None, "array_api_strict", "torch:cpu")
USABLE = [b for b in BACKENDS if b is None or not testing.backend_skip_reason(b)]


def small(cls, backend):
    # scikit-learn's own settings for its MLPs in these checks (max_iter=100).
    return cls(max_iter=100, backend=backend)


if len(USABLE) < len(BACKENDS):

    @pytest.mark.parametrize("backend", [b for b in BACKENDS if b not in USABLE])
    def test_backend_missing(backend):
        pytest.skip(testing.backend_skip_reason(backend) or "")


@parametrize_with_checks([small(cls, b) for b in USABLE for cls in (MLPClassifier, MLPRegressor)])
def test_sklearn_compatible_estimator(estimator, check):
    check(estimator)
