"""What a data-parallel step costs: per-step time, the gradient reduction's time and its share of
the step, for the mnist and large workloads (portnn/bench/workloads.py) on 1, 2 and 3 ranks, one
BLAS thread per rank.

    python benchmarks/distributed.py [--ranks 1,2,3] [--repeats 3] [--backend numpy] [--out benchmarks/results/NAME]

The driver starts ``mpiexec -n P python -m mpi4py benchmarks/distributed.py --worker ...`` per
rank count and workload; rank 0 of each job prints one JSON line. Measured per step, over the
timed fit (after an untimed one that warms the caches), from the job (of ``--repeats``) with the
median step time:

- ``step_ms``: the fit's wall time over its steps (forward, backward, reduction, update).
- ``reduce_ms``: time inside the gradient transport's allreduce, which includes waiting for the
  slowest rank to arrive; ``reduce_share``: its part of ``step_ms``.
- ``allreduce_alone_ms``: the same buffer summed back to back after a barrier (pure transport).
- ``bytes_per_step``: the flat buffer (all gradients and the loss).
"""

from __future__ import annotations

import argparse
import json
import os
import pathlib
import shutil
import subprocess
import sys
import time
from dataclasses import replace

import numpy as np

import portnn as pn
from portnn.bench.machine import describe_machine
from portnn.bench.workloads import FULL, build_layers, make_data

# mnist as in `portnn bench`, on 12 800 rows (100 steps of 128); large at full width, 4 steps of 1024
WORKLOADS = {"mnist": replace(FULL["mnist"], samples=12_800), "large": replace(FULL["large"], samples=4_096)}
THREADS = {k: "1" for k in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")}


def worker(name: str, backend: str) -> None:
    comm = pn.distributed.init(timeout=600)
    w = WORKLOADS[name]
    X, y = make_data(w)
    net = pn.Sequential(*build_layers(w), backend=backend, dtype=w.dtype, seed=0)
    fit = {"loss": w.loss, "batch_size": w.batch_size, "progress": False, "distributed": comm}
    net.fit(X[: 2 * w.batch_size], y[: 2 * w.batch_size], optimizer=pn.optim.SGD(lr=w.lr), **fit)  # warm-up
    transport = comm.transport_for(net.backend)
    spent, plain = [], transport.allreduce

    def timed(flat):
        start = time.perf_counter()
        out = plain(flat)
        spent.append(time.perf_counter() - start)
        return out

    transport.allreduce = timed
    comm.mpi.Barrier()
    start = time.perf_counter()
    net.fit(X, y, optimizer=pn.optim.SGD(lr=w.lr), **fit)
    seconds = time.perf_counter() - start
    transport.allreduce = plain
    steps, n_values = len(spent), net.num_parameters() + 1
    alone = allreduce_alone(comm, transport, net.backend.asarray(np.ones(n_values, dtype=w.dtype)))
    if comm.rank == 0:
        row = {
            "workload": name,
            "describe": w.describe(),
            "backend": backend,
            "ranks": comm.size,
            "steps": steps,
            "step_ms": 1e3 * seconds / steps,
            "reduce_ms": 1e3 * float(np.mean(spent)),
            "reduce_share": float(np.sum(spent)) / seconds,
            "allreduce_alone_ms": 1e3 * alone,
            "bytes_per_step": n_values * np.dtype(w.dtype).itemsize,
            "rows_per_s": w.samples / seconds,
        }
        print(json.dumps(row), flush=True)


def allreduce_alone(comm, transport, flat, repeats: int = 10) -> float:
    """Median seconds of one allreduce of ``flat`` with every rank already there."""
    times = []
    for _ in range(repeats):
        comm.mpi.Barrier()
        start = time.perf_counter()
        transport.allreduce(flat)
        times.append(time.perf_counter() - start)
    return float(np.median(times))


def drive(ranks: list[int], backend: str, out: pathlib.Path | None, repeats: int) -> None:
    mpiexec = shutil.which("mpiexec", path=f"{pathlib.Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}")
    if mpiexec is None:
        raise SystemExit("no mpiexec: pip install 'portnn[mpi]'")
    env = {**os.environ, **THREADS, "PYTHONPATH": str(pathlib.Path(__file__).resolve().parents[1])}
    rows, load = [], os.getloadavg()  # other work on a shared machine shows here
    for name in WORKLOADS:
        for n in ranks:
            args = [mpiexec, "-n", str(n), sys.executable, "-m", "mpi4py", __file__]
            runs = []
            for _ in range(repeats):  # a shared machine drifts: keep the job with the median step time
                done = subprocess.run(
                    [*args, "--worker", name, "--backend", backend], capture_output=True, text=True, env=env, check=True
                )
                runs.append(json.loads(done.stdout.strip().splitlines()[-1]))
            runs.sort(key=lambda r: r["step_ms"])
            rows.append({**runs[len(runs) // 2], "step_ms_all_runs": [r["step_ms"] for r in runs]})
            print(table([rows[-1]], header=len(rows) == 1), flush=True)
    if out is not None:
        record = {"machine": describe_machine(), "mpi": mpi_version(), "threads_per_rank": 1, "repeats": repeats}
        record.update(load_average_before=load, load_average_after=os.getloadavg(), results=rows)
        out.with_suffix(".json").write_text(json.dumps(record, indent=1))
        out.with_suffix(".md").write_text(table(rows, header=True) + "\n")


def mpi_version() -> str:
    from mpi4py import MPI

    return MPI.Get_library_version().splitlines()[0].strip()


def table(rows: list[dict], header: bool) -> str:
    lines = []
    if header:
        lines += [
            "| workload | ranks | steps | step ms | reduce ms | reduce share | allreduce alone ms | MB/step | rows/s |",
            "|---|---|---|---|---|---|---|---|---|",
        ]
    for r in rows:
        lines.append(
            f"| {r['workload']} | {r['ranks']} | {r['steps']} | {r['step_ms']:.2f} | {r['reduce_ms']:.3f} | "
            f"{100 * r['reduce_share']:.1f}% | {r['allreduce_alone_ms']:.3f} | {r['bytes_per_step'] / 1e6:.2f} | "
            f"{r['rows_per_s']:.0f} |"
        )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--worker", choices=sorted(WORKLOADS), help=argparse.SUPPRESS)
    parser.add_argument("--backend", default="numpy")
    parser.add_argument("--ranks", default="1,2,3")
    parser.add_argument("--repeats", type=int, default=3, help="jobs per configuration; the median is kept")
    parser.add_argument("--out", type=pathlib.Path, default=None, help="write OUT.json and OUT.md")
    args = parser.parse_args()
    if args.worker:
        worker(args.worker, args.backend)
    else:
        drive([int(n) for n in args.ranks.split(",")], args.backend, args.out, args.repeats)


if __name__ == "__main__":
    main()
