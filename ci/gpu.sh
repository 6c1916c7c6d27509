#!/usr/bin/env bash
# The GPU check, in one command, for anyone with a CUDA machine:
#   ci/gpu.sh OUTPUT_DIR [--quick]
# Sections, most important first, each under a time limit and all under one deadline
# (PORTNN_GPU_DEADLINE seconds, default 480), so that a slow section still leaves a record:
#   1. environment.txt  nvidia-smi, CUDA, library versions, available backends
#   2. the host-sync check (tests/test_host_sync.py; a streamed epoch too, tests/test_streaming_no_host_sync.py)
#      and the whole suite on cupy:0, torch:cuda and
#      jax:gpu (tests marked slow are CPU-only and skipped): pytest.txt
#   3. `portnn bench --gpu` (xor, mnist, large on the GPU backends beside the GEMM floor and torch
#      eager CUDA): bench.json, bench.md, bench.png
#   4. the batch-size sweep, GPU backends beside NumPy and torch on the CPU: sweep.json, sweep.md
#   4b. `portnn bench --data` on a synthetic 16384x256 two-class set (an MLP --hidden 1024,1024), NumPy and
#      torch on the CPU beside the GPU backends at three batch sizes, agreement checked: compare.*
#   5. the large network's kernels, per step, beside torch eager's (benchmarks/gpu_kernels.py): kernels.txt
#   6. portnn.sklearn's fit time against scikit-learn's on the GPU backends (benchmarks/sklearn_fit.py):
#      sklearn-fit.json, sklearn-fit.md
# Every section's output also goes to run.log. It installs nothing: portnn is used from this
# checkout and a missing package is named. Exit status 0 when every section succeeded.
# PORTNN_GPU_SECTIONS (default "host-sync,suite,bench,sweep,compare,kernels,sklearn") picks the sections
# after the environment, and
# PORTNN_GPU_WORKLOADS (default "xor,mnist,large") the bench's workloads: a second call on a
# short budget reruns only what changed.
set -uo pipefail
out=${1:?usage: ci/gpu.sh OUTPUT_DIR [--quick]}
quick=${2:-}
here=$(cd "$(dirname "$0")/.." && pwd)
mkdir -p "$out"
out=$(cd "$out" && pwd)
cd "$here"
PY=${PYTHON:-python3}
GPU_SPECS=${PORTNN_GPU_SPECS:-cupy:0,torch:cuda,jax:gpu}
SECTIONS=${PORTNN_GPU_SECTIONS:-host-sync,suite,bench,sweep,compare,kernels,sklearn}
WORKLOADS=${PORTNN_GPU_WORKLOADS:-xor,mnist,large}
export PYTHONPATH="$here${PYTHONPATH:+:$PYTHONPATH}"
# JAX must not take 75% of the GPU's memory up front: torch and CuPy share the card in one process.
export JAX_ENABLE_X64=1 PYTHONUNBUFFERED=1 XLA_PYTHON_CLIENT_PREALLOCATE=false
deadline=$((SECONDS + ${PORTNN_GPU_DEADLINE:-480}))
log="$out/run.log"
: >"$log"
failed=()

# run_section NAME LIMIT_SECONDS COMMAND...: the command's output to run.log and the terminal,
# killed at min(LIMIT, time left before the deadline).
run_section() {
    local name=$1 limit=$2
    shift 2
    if [[ ",$SECTIONS," != *",$name,"* && $name != environment ]]; then
        echo "== $name: not asked for (PORTNN_GPU_SECTIONS=$SECTIONS)" | tee -a "$log"
        return
    fi
    local left=$((deadline - SECONDS))
    ((left < limit)) && limit=$left
    if ((limit < 10)); then
        echo "== $name: skipped, the deadline has passed" | tee -a "$log"
        failed+=("$name(no time)")
        return
    fi
    echo "== $name (limit ${limit} s)" | tee -a "$log"
    local start=$SECONDS
    timeout --kill-after=10 "$limit" "$@" 2>&1 | tee -a "$log"
    local rc=${PIPESTATUS[0]}
    printf '\n== %s: exit %s after %s s\n' "$name" "$rc" "$((SECONDS - start))" | tee -a "$log"
    ((rc == 0)) || failed+=("$name(exit $rc)")
}

"$PY" - <<'PYEOF' || exit 3
import importlib.util, sys
required = ["numpy", "array_api_compat", "array_api_strict", "safetensors", "tqdm", "pytest", "hypothesis"]
optional = {"cupy": "the cupy:N backend", "torch": "torch:cuda and the PyTorch references",
            "jax": "jax:gpu", "matplotlib": "the bench chart", "sklearn": "the scikit-learn reference",
            "xdist": "parallel tests", "pytest_timeout": "per-test time limits"}
missing = [name for name in required if importlib.util.find_spec(name) is None]
if missing:
    print(f"ci/gpu.sh: missing required packages: {', '.join(missing)} (install them; nothing is fetched here)")
    sys.exit(1)
for name, what in optional.items():
    if importlib.util.find_spec(name) is None:
        print(f"ci/gpu.sh: {name} is not installed: {what} will be skipped")
PYEOF

environment() {
    echo "# $(date -u +%Y-%m-%dT%H:%M:%SZ) on $(hostname), $(nproc) cores"
    nvidia-smi 2>&1 || echo "nvidia-smi: not available (no NVIDIA driver here)"
    nvcc --version 2>&1 | tail -2
    "$PY" -c "import sys; print('python', sys.version.split()[0], sys.executable)"
    "$PY" -m pip list 2>/dev/null | grep -iE '^(numpy|array.api|cupy|torch |jax|jaxlib|safetensors|scikit-learn|matplotlib|mpi4py|pytest|hypothesis)' || true
    "$PY" -c "import torch; print('torch CUDA', torch.version.cuda, 'cuDNN', torch.backends.cudnn.version())" 2>&1
    "$PY" -c "import cupy; print('cupy CUDA runtime', cupy.cuda.runtime.runtimeGetVersion())" 2>&1
    "$PY" -m portnn.cli info
}
export PY
run_section environment 60 bash -c "$(declare -f environment); environment"
cp "$log" "$out/environment.txt"

# Only the GPU backends that answer here are tested and timed; the others are named.
answering=$("$PY" -c "import sys, portnn as pn; have = pn.available_backends(); wanted = sys.argv[1].split(',')
print(','.join(s for s in wanted if s in have))
print('ci/gpu.sh: not available here:', [s for s in wanted if s not in have], file=sys.stderr)" "$GPU_SPECS")
[ -n "$answering" ] || { echo "ci/gpu.sh: none of $GPU_SPECS answers here" | tee -a "$log"; exit 4; }
GPU_SPECS=$answering

pytest_args=(-q -rfEs -p no:cacheprovider)
"$PY" -c "import pytest_timeout" 2>/dev/null && pytest_args+=(--timeout=90)
parallel=()
"$PY" -c "import xdist" 2>/dev/null && parallel=(-n 8)
export PORTNN_BACKENDS=$GPU_SPECS
run_section host-sync 120 "$PY" -m pytest tests/test_host_sync.py tests/test_streaming_no_host_sync.py -v -p no:cacheprovider
# Eight test processes share the CPU cores: one BLAS thread each for the host-side references.
run_section suite 200 env OMP_NUM_THREADS=2 "$PY" -m pytest tests -m "not slow" "${pytest_args[@]}" "${parallel[@]}"
unset PORTNN_BACKENDS
grep -A100000 "^== host-sync" "$log" | grep -B100000 "^== suite: exit" >"$out/pytest.txt"

size=--gpu
[ "$quick" = "--quick" ] && size=--quick
plot=""
"$PY" -c "import matplotlib" 2>/dev/null && plot="--plot $out/bench.png"
run_section bench 150 bash -c "\"\$PY\" -m portnn.cli bench $size --backends $GPU_SPECS --workloads $WORKLOADS \
    --out $out/bench.json --markdown $out/bench.md $plot"
run_section sweep 90 bash -c "\"\$PY\" -m portnn.cli bench $size --backends numpy,torch:cpu,$GPU_SPECS \
    --workloads sweep --out $out/sweep.json --markdown $out/sweep.md"
# A user's network on a user's data (pn.bench.compare): where each GPU backend overtakes NumPy.
run_section compare 120 bash -c "\"\$PY\" -c \"import numpy as np; r = np.random.default_rng(0); X = r.normal(size=(16384, 256)); \
np.savez('$out/compare-data.npz', X=X, y=(X[:, :8].sum(axis=1) > 0).astype('int64'))\" && \"\$PY\" -m portnn.cli bench \
    --data $out/compare-data.npz --hidden 1024,1024 --batch-sizes 64,512,4096 --backends numpy,torch:cpu,$GPU_SPECS \
    --repeats 3 --out $out/compare.json ${plot:+--plot $out/compare.png}"

# Where the large network's step spends its device time, kernel by kernel, beside torch eager.
run_section kernels 120 bash -c "\"\$PY\" benchmarks/gpu_kernels.py large ${GPU_SPECS//,/ } torch-eager >$out/kernels.txt; \
    rc=\$?; cat $out/kernels.txt; exit \$rc"

run_section sklearn 120 bash -c "\"\$PY\" benchmarks/sklearn_fit.py --backends numpy ${GPU_SPECS//,/ } --rounds 3 \
    --out gpu-sklearn-fit && mv benchmarks/results/gpu-sklearn-fit.json $out/sklearn-fit.json \
    && mv benchmarks/results/gpu-sklearn-fit.md $out/sklearn-fit.md"

if ((${#failed[@]})); then
    echo "ci/gpu.sh: failed: ${failed[*]}; results in $out" | tee -a "$log"
    exit 1
fi
echo "ci/gpu.sh: every section passed; results in $out" | tee -a "$log"
