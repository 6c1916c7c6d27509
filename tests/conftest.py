import os

# float64 on JAX needs this before jax is first imported (portnn imports it lazily).
os.environ.setdefault("JAX_ENABLE_X64", "1")
# scikit-learn's array-API estimator checks need SciPy's array-API mode, read when SciPy is first imported.
os.environ.setdefault("SCIPY_ARRAY_API", "1")
# One BLAS/OpenMP thread per test process: pytest-xdist already keeps the cores busy, and torch's
# OpenMP threads spin-waiting on an oversubscribed machine made a 5 us matmul take 16 ms.
os.environ.setdefault("OMP_NUM_THREADS", "1")

import numpy as np
import pytest

import portnn as pn
from portnn import testing
from portnn._xp import pin_full_precision

pin_full_precision()

# Scripts the tests start as subprocesses (under mpiexec, or killed mid-run), not test modules:
# `--doctest-modules` would import them, running them, and fail where mpi4py or torch is absent.
collect_ignore_glob = ["distributed_*.py", "resume_worker.py"]


@pytest.fixture(params=testing.backend_params())
def spec(request):
    """Every backend spec of the test matrix; unavailable ones are skipped with a reason."""
    return request.param


@pytest.fixture
def bk(spec):
    return pn.get_backend(spec)


@pytest.fixture
def bk64(bk):
    """A backend whose device has float64 (others skip: array_api_strict's no_float64)."""
    if not bk.float64:
        pytest.skip(f"{bk.spec} has no float64")
    return bk


@pytest.fixture
def rng():
    return np.random.default_rng(1234)


@pytest.fixture
def jax_bk():
    """JAX on the CPU with float64 (for the compiled-step tests); skipped with a reason otherwise."""
    reason = testing.backend_skip_reason("jax:cpu")
    if reason:
        pytest.skip(reason)
    bk = pn.get_backend("jax:cpu")
    if not bk.float64:
        pytest.skip("jax:cpu without float64 (JAX_ENABLE_X64 unset)")
    return bk
