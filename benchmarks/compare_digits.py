"""The README's "Benchmark your own model" example: ``pn.bench.compare`` on scikit-learn's digits.

    python benchmarks/compare_digits.py [--repeats 3] [--out NAME] [--tiny]

An MLP 64-256-256-10 (features standardised by its first layer) trained with Adam for 2 epochs per
timed run on NumPy, array-api-strict, torch and JAX on the CPU, at batch sizes 32, 256 and 1797
(the full batch), in float32. Prints the Markdown table; ``--out NAME`` writes
``benchmarks/results/NAME.json``, ``NAME.md`` and ``NAME.png``. ``--tiny`` times 200 rows once:
it checks that the script runs, and its times mean nothing.
"""

import argparse
from pathlib import Path

from sklearn.datasets import load_digits

import portnn as pn

RESULTS = Path(__file__).parent / "results"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--out", default=None, help="write benchmarks/results/NAME.{json,md,png}")
    parser.add_argument("--tiny", action="store_true", help="200 rows, one repeat: checks that it runs")
    args = parser.parse_args()

    X, y = load_digits(return_X_y=True)
    batch_sizes = (32, 256, 1797)
    if args.tiny:
        X, y, batch_sizes, args.repeats = X[:200], y[:200], (32, 200), 1
    net = pn.Sequential(
        pn.Standardize(64).adapt(X),
        pn.Dense(64, 256), pn.ReLU(),
        pn.Dense(256, 256), pn.ReLU(),
        pn.Dense(256, 10),
        seed=0,
    )  # fmt: skip
    backends = [s for s in ("numpy", "array_api_strict", "torch:cpu", "jax:cpu") if s in pn.available_backends()]
    result = pn.bench.compare(
        net,
        X,
        y,
        loss="cross_entropy",
        optimizer=pn.optim.Adam(lr=1e-3),
        backends=backends,
        batch_sizes=batch_sizes,
        epochs=2,
        repeats=args.repeats,
        metrics=["accuracy"],
    )
    print(result.to_markdown())
    print("fastest:", result.fastest)
    if args.out:
        result.to_json(RESULTS / f"{args.out}.json")
        (RESULTS / f"{args.out}.md").write_text(result.to_markdown() + "\n")
        result.plot(RESULTS / f"{args.out}.png")


if __name__ == "__main__":
    main()
