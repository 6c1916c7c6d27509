"""Which GPU kernels one training epoch runs, and for how long: portnn on each GPU backend beside
torch eager CUDA, from the same CUPTI trace (torch.profiler records every kernel of the process,
CuPy's and JAX's included).

    python benchmarks/gpu_kernels.py large cupy:0 torch:cuda torch-eager [--top 12]

Per implementation: the kernels by total device time, with calls and microseconds per training
step, then the step's device time beside its wall time (wall well above device time means the
host, not the GPU, sets the pace).
"""

from __future__ import annotations

import argparse
import itertools
import time

import torch

from portnn._xp import pin_full_precision
from portnn.bench.references import make_torch_eager
from portnn.bench.suite import portnn_runner
from portnn.bench.workloads import GPU, make_data


def runner_for(name, w, X, y):
    if name == "torch-eager":
        return make_torch_eager(w, X, y, "cuda")
    return portnn_runner(w, name, X, y)[0]


def kernel_table(name, w, X, y, top):
    runner = runner_for(name, w, X, y)
    for _ in range(2):  # warm-up: compilation, autotuning, the memory pools
        runner.reset()
        runner.sync(runner.run())
    runner.reset()
    torch.cuda.synchronize()
    activities = [torch.profiler.ProfilerActivity.CUDA]
    with torch.profiler.profile(activities=activities) as prof:
        start = time.perf_counter()
        runner.sync(runner.run())
        torch.cuda.synchronize()
        wall = time.perf_counter() - start
    steps = w.steps_per_epoch * w.epochs
    rows = []
    for event in prof.key_averages():
        device_us = getattr(event, "self_device_time_total", None)
        if device_us is None:
            device_us = event.self_cuda_time_total
        if device_us > 0:
            rows.append((device_us, event.count, event.key))
    rows.sort(reverse=True)
    total = sum(r[0] for r in rows)
    print(f"\n## {name}: {w.name}, {steps} steps")
    print(f"device time per step {total / steps:9.1f} µs; wall time per step {wall / steps * 1e6:9.1f} µs")
    print(f"{'µs/step':>9} {'calls/step':>10} {'share':>6}  kernel")
    for device_us, count, key in rows[:top]:
        print(f"{device_us / steps:9.1f} {count / steps:10.2f} {device_us / total:6.1%}  {key[:110]}")
    idle_gaps(prof)
    rest = rows[top:]
    if rest:
        print(
            f"{sum(r[0] for r in rest) / steps:9.1f} {sum(r[1] for r in rest) / steps:10.2f}         ({len(rest)} others)"
        )


def idle_gaps(prof, top=6):
    """The device's idle spells between consecutive kernels (and copies): where the host, not the
    GPU, set the pace. Prints their total and the longest, with the kernels on either side."""
    spans = sorted(
        (e.time_range.start, e.time_range.end, e.name)
        for e in prof.events()
        if e.device_type == torch.autograd.DeviceType.CUDA
    )
    gaps = [(b[0] - a[1], i, a[2], b[2]) for i, (a, b) in enumerate(itertools.pairwise(spans))]
    busy = sum(end - start for start, end, _ in spans)
    print(f"device busy {busy / 1e3:.2f} ms from first to last kernel {(spans[-1][1] - spans[0][0]) / 1e3:.2f} ms")
    print(
        f"idle over 20 µs: {sum(g[0] for g in gaps if g[0] > 20) / 1e3:.2f} ms in {sum(g[0] > 20 for g in gaps)} spells"
    )
    for gap, index, before, after in sorted(gaps, reverse=True)[:top]:
        print(f"  {gap:8.1f} µs idle after kernel {index} of {len(spans)}: {before[:50]} -> {after[:50]}")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("workload", choices=sorted(GPU))
    parser.add_argument("implementations", nargs="+", help="backend specs and/or torch-eager")
    parser.add_argument("--top", type=int, default=12)
    args = parser.parse_args()
    pin_full_precision()  # as the bench: no TF32 in torch or JAX
    w = GPU[args.workload]
    X, y = make_data(w)
    for name in args.implementations:
        kernel_table(name, w, X, y, args.top)


if __name__ == "__main__":
    main()
