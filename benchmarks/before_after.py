"""Speed of two commits of portnn, measured back to back: ``portnn bench`` run from a git worktree
of each, alternating before/after for several pairs so that the machine's drift falls on both:
the pairs run before-after, after-before, before-after, ... so that neither side always runs second.

    python benchmarks/before_after.py BEFORE [AFTER] [--pairs 3] [--out NAME] [-- bench arguments]

AFTER defaults to this working tree. ``--pool NAME [NAME ...]`` runs nothing: it compares the
pairs already recorded under those names together (runs of the same two commits), into ``--out``.
Each run writes ``benchmarks/results/NAME/{before,after}-K.json``;
``NAME/compare.md`` gets, for every ratio ``portnn bench`` reports (portnn's time over a reference
measured in the same run), the median over the pairs of before and after and after/before.
The bench arguments default to issue 22's check:
``--workloads xor,mnist --backends numpy,torch:cpu,jax:cpu --repeats 9``.
"""

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "benchmarks" / "results"
DEFAULT_BENCH = ["--workloads", "xor,mnist", "--backends", "numpy,torch:cpu,jax:cpu", "--repeats", "9"]


def worktree(commit, where):
    """A detached worktree of ``commit`` at ``where`` (the source ``portnn bench`` runs from)."""
    subprocess.run(["git", "-C", str(ROOT), "worktree", "add", "--detach", "-f", str(where), commit], check=True)
    return where


def ratios_of(path):
    """``{(workload, backend, versus): ratio}`` of one ``portnn bench`` record, and each
    implementation's median seconds per epoch under ``(workload, backend, "<implementation> s/epoch")``:
    a ratio moves when its reference does, the times tell which side moved."""
    record = json.loads(path.read_text())
    found = {(r["workload"], r["backend"], r["versus"]): r["ratio"] for r in record["ratios"]}
    for r in record["results"]:
        found[(r["workload"], r["backend"], f"{r['implementation']} s/epoch")] = r["per_epoch_s"]["median"]
    return found


def pooled(names):
    """The runs recorded under ``names``, all pairs of all of them together."""
    runs = {"before": [], "after": []}
    for name in names:
        for side in runs:
            runs[side] += [ratios_of(path) for path in sorted((RESULTS / name).glob(f"{side}-*.json"))]
    return runs


def run_bench(source, bench_args, out):
    env = {**os.environ, "PYTHONPATH": str(source)}
    cmd = [sys.executable, "-m", "portnn", "bench", *bench_args, "--out", str(out)]
    subprocess.run(cmd, cwd=source, env=env, check=True, stdout=subprocess.DEVNULL)
    return ratios_of(out)


def compare(runs):
    """Markdown rows: per ratio and per implementation's time, the medians over the pairs and after/before."""
    rows = [
        "| workload | backend | versus (or implementation, s/epoch) | before (median) | after (median) | after/before |",
        "|---|---|---|---|---|---|",
    ]
    for key in runs["before"][0]:
        before = statistics.median(r[key] for r in runs["before"] if key in r)
        after = statistics.median(r[key] for r in runs["after"] if key in r)
        rows.append(f"| {' | '.join(key)} | {before:.4g} | {after:.4g} | {after / before:.3f} |")
    return "\n".join(rows)


def main(argv=None):
    argv = list(sys.argv[1:] if argv is None else argv)
    bench_args = argv[argv.index("--") + 1 :] if "--" in argv else DEFAULT_BENCH
    argv = argv[: argv.index("--")] if "--" in argv else argv
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("before", nargs="?", default=None)
    parser.add_argument("after", nargs="?", default=None)
    parser.add_argument("--pairs", type=int, default=3)
    parser.add_argument("--out", default="before-after")
    parser.add_argument("--pool", nargs="+", default=None, help="compare these records' pairs together; run nothing")
    args = parser.parse_args(argv)
    out = RESULTS / args.out
    out.mkdir(parents=True, exist_ok=True)
    if args.pool:
        runs = pooled(args.pool)
        head = f"`python benchmarks/before_after.py {' '.join(sys.argv[1:])}`: the pairs of {', '.join(args.pool)} together ({len(runs['before'])} pairs).\n\n"
        (out / "compare.md").write_text(head + compare(runs) + "\n")
        print(compare(runs))
        return
    if args.before is None:
        parser.error("BEFORE is required unless --pool is given")
    with tempfile.TemporaryDirectory() as tmp:
        sources = {"before": worktree(args.before, Path(tmp) / "before")}
        sources["after"] = worktree(args.after, Path(tmp) / "after") if args.after else ROOT
        runs = {"before": [], "after": []}
        for k in range(args.pairs):
            for side in ("before", "after") if k % 2 == 0 else ("after", "before"):
                runs[side].append(run_bench(sources[side], bench_args, out / f"{side}-{k + 1}.json"))
                print(f"pair {k + 1}: {side} done", flush=True)
        for side in ("before", "after"):
            if sources[side] != ROOT:
                subprocess.run(
                    ["git", "-C", str(ROOT), "worktree", "remove", "--force", str(sources[side])], check=True
                )
    table = compare(runs)
    head = f"`python benchmarks/before_after.py {' '.join(sys.argv[1:])}`: before = {args.before}, after = {args.after or 'working tree'}; {args.pairs} pairs, alternating, the order swapped every pair.\n\n"
    (out / "compare.md").write_text(head + table + "\n")
    print(table)


if __name__ == "__main__":
    main()
