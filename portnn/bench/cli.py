"""``portnn bench`` argument parsing (the suite lives in portnn.bench.suite; your own model and data,
``--model``/``--hidden`` with ``--data``, in portnn.bench.owndata)."""

from __future__ import annotations

import argparse
from typing import Any


def add_bench_parser(sub: Any) -> None:
    """Register the ``bench`` subcommand."""
    bench = sub.add_parser(
        "bench",
        help="time one model across backends beside reference implementations, or yours on your data",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
        epilog="With --data, times your network (--model FILE, or an MLP of --hidden sizes) on your data "
        "across --backends, --batch-sizes and --dtypes, and checks that the backends agree.",
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
    bench.add_argument(
        "--repeats", type=int, default=None, help="timed runs per implementation; None: the preset's (3 with --data)"
    )
    own = bench.add_argument_group("your model on your data")
    own.add_argument("--data", default=None, help="a .csv with a header row, or a .npz with X and y")
    own.add_argument("--target", default=None, help="the CSV column to predict; None: 'y'")
    own.add_argument("--model", default=None, help="a .safetensors model (portnn train --save, net.save)")
    own.add_argument(
        "--hidden", default=None, help="without --model: an MLP with these hidden sizes, e.g. 256,256; None: 64,64"
    )
    own.add_argument("--batch-sizes", default="32,256,2048", help="comma separated")
    own.add_argument("--dtypes", default="float32", help="comma separated: float32,float64")
    own.add_argument("--epochs", type=int, default=1, help="epochs per timed run")
    own.add_argument("--optimizer", default="adam", help="by name, default settings and --lr")
    own.add_argument("--lr", type=float, default=0.003, help="learning rate")


def run_bench(args: argparse.Namespace) -> int:
    """Run the suite, or your model on your data; print the report, write the JSON record and chart."""
    if args.data or args.model or args.hidden:
        from .owndata import run_own

        return run_own(args)
    from .suite import main  # the CLI has enabled float64 for JAX (the xor workload needs it)

    return main(args)
