#!/usr/bin/env bash
# Install portnn with its test extras into a virtual environment and run the test suite.
# Optional backends already installed in that environment (torch, jax, cupy) are tested too;
# missing ones are skipped with a reason. Extra arguments go to pytest.
set -euo pipefail
cd "$(dirname "$0")/.."

if [ -z "${VIRTUAL_ENV:-}" ]; then
    [ -d .venv ] || python3 -m venv .venv
    # shellcheck disable=SC1091
    . .venv/bin/activate
fi
python -m pip install -q -e ".[test]"
export JAX_ENABLE_X64=1
# Doctests in the package run too: the examples in the docstrings must work.
python -m pytest -q tests --doctest-modules portnn "$@"
