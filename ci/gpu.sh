#!/usr/bin/env bash
# The GPU check, in one command, for anyone with a CUDA machine:
#   ci/gpu.sh OUTPUT_DIR [--quick]
# runs the whole test suite on every backend that answers there (cupy, torch:cuda, jax:gpu and the
# CPU ones), then `portnn bench` (full, or --quick), and writes into OUTPUT_DIR:
#   environment.txt  nvidia-smi, library versions, available backends
#   junit.xml        the test results;  pytest.txt the pytest summary (with skip reasons)
#   bench.json / bench.md / bench.png   the benchmark record, table and chart
# It installs nothing: portnn is used from this checkout, and a missing package is named.
# Exit status: 0 when the tests and the benchmark both succeed.
set -uo pipefail
out=${1:?usage: ci/gpu.sh OUTPUT_DIR [--quick]}
quick=${2:-}
here=$(cd "$(dirname "$0")/.." && pwd)
mkdir -p "$out"
out=$(cd "$out" && pwd)
cd "$here"
PY=${PYTHON:-python3}
export PYTHONPATH="$here${PYTHONPATH:+:$PYTHONPATH}"
export JAX_ENABLE_X64=1 PYTHONUNBUFFERED=1

"$PY" - <<'PYEOF' || exit 3
import importlib.util, sys
required = ["numpy", "array_api_compat", "array_api_strict", "safetensors", "tqdm", "pytest", "hypothesis"]
optional = {"cupy": "the cupy:N backend", "torch": "torch:cuda and the PyTorch references",
            "jax": "jax:gpu", "matplotlib": "the bench chart", "sklearn": "the scikit-learn reference"}
missing = [name for name in required if importlib.util.find_spec(name) is None]
if missing:
    print(f"ci/gpu.sh: missing required packages: {', '.join(missing)} (install them; nothing is fetched here)")
    sys.exit(1)
for name, what in optional.items():
    if importlib.util.find_spec(name) is None:
        print(f"ci/gpu.sh: {name} is not installed: {what} will be skipped")
PYEOF

{
    echo "# $(date -u +%Y-%m-%dT%H:%M:%SZ) on $(hostname)"
    nvidia-smi 2>&1 || echo "nvidia-smi: not available (no NVIDIA driver here)"
    "$PY" -m portnn.cli info
} > "$out/environment.txt" 2>&1
cat "$out/environment.txt"

"$PY" -m pytest tests -q -rs --junitxml="$out/junit.xml" 2>&1 | tee "$out/pytest.txt"
tests_rc=${PIPESTATUS[0]}

bench_args=(--out "$out/bench.json")
"$PY" -c "import matplotlib" 2>/dev/null && bench_args+=(--plot "$out/bench.png")
[ "$quick" = "--quick" ] && bench_args+=(--quick)
"$PY" -m portnn.cli bench "${bench_args[@]}" > "$out/bench.md"
bench_rc=$?
cat "$out/bench.md"

echo "ci/gpu.sh: tests exit ${tests_rc}, bench exit ${bench_rc}; results in $out"
[ "$tests_rc" -eq 0 ] && [ "$bench_rc" -eq 0 ]
