"""The ``portnn`` command: ``demo``, ``train``, ``evaluate``, ``predict``, ``bench``, ``info``."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from .. import __version__


def _positive_int(text: str) -> int:
    value = int(text)
    if value <= 0:
        raise argparse.ArgumentTypeError(f"expected a positive int, got {value}")
    return value


def _batch_size(text: str) -> int | None:
    if text == "all":
        return None
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value <= 0:
        raise argparse.ArgumentTypeError(f"expected a positive int or 'all', got {text!r}")
    return value


# `portnn train`'s defaults: mini-batches of 32 rows under Adam, 50 passes. A few full-batch steps
# (what `fit` does by default, faithful to the seed notebooks) leave a table of data undertrained.
TRAIN_DEFAULTS = (
    "The defaults (Adam at --lr 0.003, --batch-size 32, --epochs 50, --hidden 64,64 with relu) train "
    "small tables well as they are: scikit-learn's wine, breast-cancer and digits sets to 97-98% "
    "held-out accuracy. Features are standardised with the training rows' mean and deviation, "
    "which the saved model keeps."
)


def _parser() -> argparse.ArgumentParser:
    from ..nn.activations import ACTIVATIONS
    from ..optim.optimizers import OPTIMIZERS

    parser = argparse.ArgumentParser(prog="portnn", description="Array-API neural networks on any backend.")
    parser.add_argument("--version", action="version", version=f"portnn {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)
    shows_defaults = argparse.ArgumentDefaultsHelpFormatter

    demo = sub.add_parser("demo", help="reproduce the seed notebooks", formatter_class=shows_defaults)
    demo.add_argument("name", choices=["xor", "people", "neuron"])
    demo.add_argument("--backend", default="numpy", help="backend spec (see `portnn info`)")
    demo.add_argument("--epochs", type=_positive_int, default=None, help="None: the notebook's own")
    demo.add_argument("--no-progress", action="store_true", help="no progress bar")

    train = sub.add_parser(
        "train",
        help="train an MLP on a built-in dataset or your data",
        formatter_class=shows_defaults,
        epilog=TRAIN_DEFAULTS,
    )
    train.add_argument("--dataset", choices=["spirals", "xor", "people"], default="spirals", help="built-in data")
    train.add_argument("--hidden", default="64,64", help="hidden layer sizes, comma separated")
    train.add_argument("--activation", default="relu", choices=sorted(ACTIVATIONS), help="after each hidden layer")
    train.add_argument("--optimizer", default="adam", choices=sorted(OPTIMIZERS), help="with default settings and --lr")
    train.add_argument("--lr", type=float, default=0.003, help="learning rate")
    train.add_argument("--epochs", type=_positive_int, default=50, help="passes over the data")
    train.add_argument("--batch-size", type=_batch_size, default=32, help="rows per step; all: every row in one step")
    train.add_argument("--backend", default="numpy", help="backend spec (see `portnn info`)")
    train.add_argument("--dtype", default="float32", choices=["float32", "float64"], help="floating point type")
    train.add_argument("--seed", type=int, default=0, help="initial weights, shuffling, dropout")
    train.add_argument("--save", default=None, help="write the trained model to this .safetensors file")
    train.add_argument("--no-progress", action="store_true", help="no progress bar")
    train.add_argument("--progress", default="auto", choices=["auto", "bar", "lines"], help="what to show per epoch")
    train.add_argument("--data", default=None, help="your data: a .csv with a header row, or a .npz with X and y")
    train.add_argument("--target", default=None, help="the CSV column to predict; None: 'y'")
    train.add_argument(
        "--task",
        default="auto",
        choices=["auto", "classify", "regress"],
        help="auto: classes if the target is text or at most 20 distinct whole numbers, else values",
    )
    train.add_argument("--val-split", type=float, default=0.0, help="fraction of rows held out for validation")
    train.add_argument(
        "--distributed",
        action="store_true",
        help="data-parallel over the ranks of `mpiexec -n P python -m mpi4py -m portnn train ...`; "
        "--batch-size is the global batch, rank 0 prints and saves; a GPU backend trains on GPU "
        "local_rank of each machine (--backend cupy or torch:cuda: one rank per GPU)",
    )
    train.add_argument(
        "--metrics", default=None, help="comma separated, e.g. accuracy,top_k_accuracy; None: accuracy for classes"
    )
    for name, what in (
        ("evaluate", "loss and metrics of a saved model on labelled data"),
        ("predict", "a saved model's predictions"),
    ):
        command = sub.add_parser(name, help=what, formatter_class=shows_defaults)
        command.add_argument("model", help="a .safetensors file written by `portnn train --data ... --save`")
        command.add_argument("--data", required=True, help="a .csv with the training columns, or a .npz with X")
        command.add_argument("--backend", default="numpy", help="backend spec (see `portnn info`)")
        command.add_argument(
            "--target", default=None, help="the CSV column of the targets, not a feature; None: the training's"
        )
        if name == "evaluate":
            command.add_argument("--metrics", default=None, help="comma separated; None: those of training")
            command.add_argument(
                "--batch-size", type=_positive_int, default=None, help="rows per forward pass; None: all"
            )
        else:
            command.add_argument("--out", default=None, help="write a CSV here; None: standard output")

    from ..bench.cli import add_bench_parser

    add_bench_parser(sub)
    sub.add_parser("info", help="versions and available backends")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``portnn`` console script; returns the exit status."""
    import os

    # The seeds run in float64; JAX has it only when enabled before its first import. This is the
    # command's own process, so enabling it here changes nobody else's JAX.
    os.environ.setdefault("JAX_ENABLE_X64", "1")
    args = _parser().parse_args(argv)
    try:
        code = _run(args)
        sys.stdout.flush()  # here, not at exit: a reader gone by then is caught below
        return code
    except BrokenPipeError:  # the reader left (`portnn predict ... | head`): end quietly, as Unix tools do
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())  # no second error at exit's flush
        return 128 + 13  # what a shell reports for a process ended by SIGPIPE
    except (ValueError, TypeError, OSError) as exc:
        print(f"portnn: error: {exc}", file=sys.stderr)
        return 2


def _run(args: argparse.Namespace) -> int:
    if args.command == "demo":
        return _demo(args)
    if args.command == "train":
        from .train import run_train

        return run_train(args)
    if args.command in ("evaluate", "predict"):
        from . import apply as apply_cli

        return apply_cli.run_evaluate(args) if args.command == "evaluate" else apply_cli.run_predict(args)
    if args.command == "bench":
        from ..bench.cli import run_bench

        return run_bench(args)
    return _info()


def _demo(args: argparse.Namespace) -> int:
    from . import demos

    progress = False if args.no_progress else "auto"
    if args.name == "xor":
        demos.demo_xor(args.backend, args.epochs or 80_000, progress)
    elif args.name == "people":
        demos.demo_people(args.backend, args.epochs or 1000, progress)
    else:
        demos.demo_neuron(args.backend)
    return 0


def _info() -> int:
    import platform

    from .._xp import available_backends, library_versions

    print(f"portnn {__version__} on Python {platform.python_version()} ({platform.machine()})")
    for name, version in library_versions().items():
        print(f"  {name:18s} {version}")
    print(f"available backends: {', '.join(available_backends())}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
