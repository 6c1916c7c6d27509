"""``portnn bench`` argument parsing (the suite itself lives in portnn.bench.suite)."""

from __future__ import annotations

import argparse
from typing import Any


def add_bench_parser(sub: Any) -> None:
    """Register the ``bench`` subcommand."""
    bench = sub.add_parser(
        "bench",
        help="time one model across backends beside reference implementations",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    bench.add_argument("--quick", action="store_true", help="small sizes: under a minute on 2 cores")
    bench.add_argument(
        "--gpu", action="store_true", help="GPU-sized units (more epochs per timed run; large on devices only)"
    )
    bench.add_argument("--backends", default=None, help="comma-separated specs; None: all available")
    bench.add_argument("--workloads", default=None, help="comma-separated: xor,mnist,large,sweep")
    bench.add_argument("--out", default=None, help="write the JSON record here")
    bench.add_argument(
        "--markdown",
        default=None,
        help="write every figure as wide Markdown tables here (the terminal gets 120 columns)",
    )
    bench.add_argument("--plot", default=None, help="write a PNG chart here (needs matplotlib)")
    bench.add_argument("--repeats", type=int, default=None, help="timed runs per implementation; None: the preset's")


def run_bench(args: argparse.Namespace) -> int:
    """Run the suite, print the report, write the JSON record, the Markdown tables and the chart."""
    from .suite import main  # the CLI has enabled float64 for JAX (the xor workload needs it)

    return main(args)
