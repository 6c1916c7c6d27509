#!/usr/bin/env bash
# Lint, format check and type check (ruff and mypy as configured in pyproject.toml).
set -euo pipefail
cd "$(dirname "$0")/.."
if [ -z "${VIRTUAL_ENV:-}" ] && [ -d .venv ]; then
    # shellcheck disable=SC1091
    . .venv/bin/activate
fi
python -m pip install -q "ruff==0.17.6" "mypy==2.4.1"  # pinned: formatting must not change under us
ruff check .
ruff format --check .
mypy portnn
