"""Fit time of ``portnn.sklearn.MLPClassifier`` against scikit-learn's ``MLPClassifier``.

    python benchmarks/sklearn_fit.py [--backends numpy torch:cpu jax:cpu] [--rounds 3] [--out NAME] [--quick]

Two data sets: digits (1797 x 64, standardised) and a synthetic 50 000 x 100 classification set
(10 classes). Every contestant fits the same network (``hidden_layer_sizes=(100,)``, adam, batch
200, ``random_state=0``) for a fixed number of epochs (``tol=0``, so no early stop); the rounds are
interleaved (each round fits every contestant once, in turn) so that load on the machine falls on
all of them alike. Prints and records the median seconds per fit and the ratio portnn / sklearn;
``--out NAME`` writes ``benchmarks/results/NAME.json`` and ``NAME.md`` with the machine described.
``--quick`` fits a few hundred rows for one or two epochs: it checks that the script runs, and its
times mean nothing.
"""

import argparse
import json
import os
import statistics
import time
import warnings
from pathlib import Path

from sklearn.datasets import load_digits, make_classification
from sklearn.exceptions import ConvergenceWarning
from sklearn.neural_network import MLPClassifier as SkMLPClassifier
from sklearn.preprocessing import StandardScaler

import portnn as pn
from portnn.bench.machine import describe_machine
from portnn.sklearn import MLPClassifier

RESULTS = Path(__file__).parent / "results"


def data_sets(quick=False):
    X, y = load_digits(return_X_y=True)
    n = 2_000 if quick else 50_000
    X_syn, y_syn = make_classification(n_samples=n, n_features=100, n_informative=40, n_classes=10, random_state=0)
    if quick:
        return {
            "digits 400x64, 2 epochs": (StandardScaler().fit_transform(X[:400]), y[:400], 2),
            "synthetic 2000x100, 1 epoch": (StandardScaler().fit_transform(X_syn), y_syn, 1),
        }
    return {
        "digits 1797x64, 60 epochs": (StandardScaler().fit_transform(X), y, 60),
        "synthetic 50000x100, 5 epochs": (StandardScaler().fit_transform(X_syn), y_syn, 5),
    }


def contestants(backends):
    found = {"sklearn": lambda **kw: SkMLPClassifier(**kw)}
    for spec in backends:
        found[f"portnn {spec}"] = lambda spec=spec, **kw: MLPClassifier(backend=spec, **kw)
    return found


def time_fit(make, X, y, epochs):
    est = make(hidden_layer_sizes=(100,), random_state=0, max_iter=epochs, tol=0.0, n_iter_no_change=epochs + 1)
    start = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        est.fit(X, y)
    return time.perf_counter() - start, est.n_iter_


def machine():
    """portnn's description of the machine (CPU model, cores, memory, versions), with the load."""
    return {
        **describe_machine(),
        "load_average_before": os.getloadavg(),
        "OMP_NUM_THREADS": os.environ.get("OMP_NUM_THREADS", "unset"),
    }


def run(backends, rounds, quick=False):
    players = contestants(backends)
    results = {}
    for name, (X, y, epochs) in data_sets(quick).items():
        for make in players.values():
            time_fit(make, X[:400], y[:400], 1)  # warm up: imports, JIT, first allocations
        times = {player: [] for player in players}
        for _ in range(rounds):
            for player, make in players.items():
                seconds, n_iter = time_fit(make, X, y, epochs)
                assert n_iter == epochs, (player, n_iter)
                times[player].append(seconds)
        medians = {player: statistics.median(t) for player, t in times.items()}
        results[name] = {
            player: {"median_s": m, "all_s": times[player], "ratio_to_sklearn": m / medians["sklearn"]}
            for player, m in medians.items()
        }
        for player, r in results[name].items():
            print(f"{name:32s} {player:22s} {r['median_s']:8.3f} s  x{r['ratio_to_sklearn']:.2f} of sklearn")
    return results


def write(name, record):
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / f"{name}.json").write_text(json.dumps(record, indent=2, default=str))
    lines = [f"# {name}: portnn.sklearn vs scikit-learn fit time", "", f"Machine: `{record['machine']}`", ""]
    lines += ["| data | contestant | median s | ratio to sklearn |", "|---|---|---|---|"]
    for data, players in record["results"].items():
        lines += [f"| {data} | {p} | {r['median_s']:.3f} | {r['ratio_to_sklearn']:.2f} |" for p, r in players.items()]
    (RESULTS / f"{name}.md").write_text("\n".join(lines) + "\n")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    cpu = [s for s in pn.available_backends() if s in ("numpy", "torch:cpu", "jax:cpu")]
    parser.add_argument("--backends", nargs="+", default=cpu)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--out", default=None)
    parser.add_argument("--quick", action="store_true", help="tiny sizes: checks that it runs, times mean nothing")
    args = parser.parse_args()
    record = {"machine": machine(), "rounds": args.rounds, "results": run(args.backends, args.rounds, args.quick)}
    record["machine"]["load_average_after"] = os.getloadavg()
    if args.out:
        write(args.out, record)


if __name__ == "__main__":
    main()
