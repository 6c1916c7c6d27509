#!/usr/bin/env bash
# Lint, format check and type check (ruff and mypy as configured in pyproject.toml).
set -euo pipefail
cd "$(dirname "$0")/.."
if [ -z "${VIRTUAL_ENV:-}" ] && [ -d .venv ]; then
    # shellcheck disable=SC1091
    . .venv/bin/activate
fi
python -m pip install -q "ruff>=0.6" "mypy>=1.10"
ruff check .
ruff format --check .
mypy portnn
