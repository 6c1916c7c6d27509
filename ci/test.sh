#!/usr/bin/env bash
# The README's test command: install portnn with its test extras and the libraries the tests use
# (torch and JAX for CPU, scikit-learn, SciPy, pandas, matplotlib, mpi4py with MPICH) into a virtual
# environment, then run the test suite and the docstrings' examples. A library that does not install
# on this machine is reported and its tests are skipped with a reason; PORTNN_TEST_EXTRAS=0 installs
# none of them (the bare case). Extra arguments go to pytest.
set -euo pipefail
cd "$(dirname "$0")/.."

if [ -z "${VIRTUAL_ENV:-}" ]; then
    [ -d .venv ] || python3 -m venv .venv
    # shellcheck disable=SC1091
    . .venv/bin/activate
fi
python -m pip install -q -e ".[test]"
extras=("jax[cpu]" "matplotlib>=3.7" "scikit-learn>=1.9,<1.10" "scipy>=1.14" pandas "mpi4py>=4" "mpich>=4")
# torch==2.13.0 is the local CPU build here: pinning it keeps pip from pulling CUDA packages. A torch
# already installed (elsewhere: the CPU build from the index the README names) is kept as it is.
python -c "import torch" 2>/dev/null || extras=("torch==2.13.0" "${extras[@]}")
if [ "${PORTNN_TEST_EXTRAS:-1}" != "0" ] && ! python -m pip install -q "${extras[@]}"; then
    for extra in "${extras[@]}"; do  # one at a time: what installs is tested, the rest is skipped
        python -m pip install -q "$extra" || echo "ci/test.sh: $extra did not install: its tests are skipped" >&2
    done
fi
export JAX_ENABLE_X64=1
# Doctests in the package run too: the examples in the docstrings must work.
python -m pytest -q tests --doctest-modules portnn "$@"
