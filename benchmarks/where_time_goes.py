"""Where one portnn training run of a benchmark workload spends its time (cProfile, by own time).

Profile before changing the hot path. On NumPy, run it twice to see how much OpenBLAS's worker
threads cost the elementwise work between products on a 2-core machine:

    python benchmarks/where_time_goes.py mnist numpy
    OPENBLAS_NUM_THREADS=1 python benchmarks/where_time_goes.py mnist numpy

Run: python benchmarks/where_time_goes.py [xor|mnist|large] [BACKEND] [--top N]
"""

from __future__ import annotations

import argparse
import cProfile
import pstats

from portnn.bench.suite import portnn_runner
from portnn.bench.workloads import FULL, make_data


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("workload", nargs="?", default="mnist", choices=sorted(FULL))
    parser.add_argument("backend", nargs="?", default="numpy")
    parser.add_argument("--top", type=int, default=15, help="how many functions to list")
    args = parser.parse_args()
    w = FULL[args.workload]
    X, y = make_data(w)
    runner = portnn_runner(w, args.backend, X, y)[0]
    runner.reset()
    runner.run()  # warm-up: imports, caches, first-call costs
    runner.reset()
    profile = cProfile.Profile()
    profile.runcall(runner.run)
    print(f"{w.name} on {args.backend}: {w.describe()}, {w.epochs} epoch(s)")
    pstats.Stats(profile).sort_stats("tottime").print_stats(args.top)


if __name__ == "__main__":
    main()
