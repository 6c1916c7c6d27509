"""The benchmark suite: tiny runs that check the record's structure, never its timings."""

import json
from dataclasses import replace

import pytest

import portnn as pn
from portnn.bench import references, report, suite, timing
from portnn.bench.workloads import FULL, make_data
from portnn.cli import main

TINY = {
    "mnist": replace(FULL["mnist"], sizes=(20, 16, 16, 4), samples=96, batch_size=32, repeats=1),
    "large": replace(FULL["large"], sizes=(16, 32, 32, 16), samples=64, batch_size=32, repeats=1),
    "xor": replace(FULL["xor"], epochs=50, repeats=1),
}
ENTRY_KEYS = {
    "workload",
    "implementation",
    "backend",
    "dtype",
    "per_epoch_s",
    "per_step_s",
    "samples_per_s",
    "final_loss",
    "peak_host_mb",
    "peak_device_mb",
}


@pytest.mark.parametrize("name", sorted(TINY))
def test_workload_entries_have_the_record_structure(name):
    specs = [s for s in pn.available_backends() if s in ("numpy", "array_api_strict", "torch:cpu")]
    entries = suite.run_workload(TINY[name], specs, log=lambda line: None)
    for entry in entries:
        assert ENTRY_KEYS <= set(entry)
        assert set(entry["per_epoch_s"]) == {"median", "min", "max", "samples"}
        assert entry["per_epoch_s"]["min"] <= entry["per_epoch_s"]["median"] <= entry["per_epoch_s"]["max"]
    implementations = {e["implementation"] for e in entries}
    assert "portnn" in implementations
    assert ("seed-loop" if name == "xor" else "numpy-hand") in implementations
    if name != "xor":
        assert "gemm-floor" in implementations
    losses = [e["final_loss"] for e in entries if e["implementation"] == "portnn"]
    assert max(losses) - min(losses) < 1e-3 * max(1.0, abs(losses[0]))  # the backends agree
    ratios = report.ratios(entries)
    assert {r["backend"] for r in ratios} == set(specs)
    assert all(r["ratio"] > 0 for r in ratios)


def test_references_start_from_portnn_weights_and_agree():
    w = TINY["mnist"]
    X, y = make_data(w)
    hand = references.make_numpy_hand(w, X, y)
    portnn_runner, _ = suite.portnn_runner(w, "numpy", X, y)
    assert abs(timing.final_result(hand) - timing.final_result(portnn_runner)) < 0.05  # other shuffles, same start


def test_reset_restores_the_starting_weights():
    w = replace(TINY["mnist"], batch_size=None)  # full batch: no shuffle order to differ
    X, y = make_data(w)
    runner, _ = suite.portnn_runner(w, "numpy", X, y)
    assert timing.final_result(runner) == timing.final_result(runner)


def test_crossover_finds_where_a_gpu_wins():
    sweep = [
        {"backend": "numpy", "batch_size": 16, "samples_per_s": 100.0},
        {"backend": "numpy", "batch_size": 256, "samples_per_s": 200.0},
        {"backend": "cupy:0", "batch_size": 16, "samples_per_s": 50.0},
        {"backend": "cupy:0", "batch_size": 256, "samples_per_s": 900.0},
    ]
    assert report.crossover(sweep) == {"cupy:0": 256}
    assert "note" in report.crossover([e for e in sweep if e["backend"] == "numpy"])


def test_bench_command_writes_json_table_and_chart(tmp_path, capsys):
    out, chart = tmp_path / "r.json", tmp_path / "r.png"
    args = ["bench", "--quick", "--backends", "numpy", "--workloads", "xor", "--repeats", "1", "--out", str(out)]
    has_plot = True
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        has_plot = False
    args += ["--markdown", str(tmp_path / "r.md")]
    assert main(args + (["--plot", str(chart)] if has_plot else [])) == 0
    record = json.loads(out.read_text())
    assert {"machine", "settings", "results", "ratios", "sweep", "crossover"} <= set(record)
    assert record["machine"]["cores"] >= 1 and "numpy" in record["machine"]["versions"]
    printed = capsys.readouterr().out
    assert "| portnn | numpy |" in printed and max(len(line) for line in printed.splitlines()) <= 120
    assert (tmp_path / "r.md").read_text() == report.markdown(record) + "\n"
    if has_plot:
        assert chart.read_bytes()[:4] == b"\x89PNG"


def test_bench_rejects_unknown_workloads_and_backends(capsys):
    assert main(["bench", "--workloads", "resnet"]) == 2
    assert "unknown workload 'resnet'" in capsys.readouterr().err
    assert main(["bench", "--backends", "nope"]) == 2
    assert "unknown spec 'nope'" in capsys.readouterr().err


def test_bench_checks_what_its_flags_need_before_any_timing(tmp_path, capsys, monkeypatch):
    import portnn.bench.suite as suite

    def no_run(*args, **kwargs):
        raise AssertionError("the benchmark ran before its flags were checked")

    monkeypatch.setattr(suite, "run_suite", no_run)
    monkeypatch.setattr(suite, "_has", lambda module: module != "matplotlib")  # as without matplotlib
    assert main(["bench", "--quick", "--backends", "numpy", "--plot", str(tmp_path / "c.png")]) == 2
    assert "--plot needs matplotlib: pip install 'portnn[plot]'" in capsys.readouterr().err
    assert main(["bench", "--quick", "--backends", "numpy", "--out", str(tmp_path / "no" / "r.json")]) == 2
    assert "does not exist" in capsys.readouterr().err


def test_the_report_shows_only_references_that_ran_and_says_why_others_did_not():
    from portnn.bench.report import markdown

    record = {
        "machine": {"cpu": "cpu", "cores": 2, "gpus": []},
        "quick": True,
        "seconds": 1.0,
        "settings": {"workloads": {"xor": "2-3-1"}},
        "results": [
            {
                "workload": "xor",
                "implementation": impl,
                "backend": "numpy",
                "per_epoch_s": {"median": t, "min": t, "max": t},
                "per_step_s": t,
                "samples_per_s": 4 / t,
                "final_loss": 0.1,
                "peak_host_mb": None,
                "peak_device_mb": None,
            }
            for impl, t in (("portnn", 2e-5), ("seed-loop", 1e-5))
        ],
        "ratios": [
            {"workload": "xor", "backend": "numpy", "versus": "seed-loop (numpy)", "ratio": 2.0, "ratio_min": 2.0}
        ],
        "sweep": [],
        "crossover": {"note": "no GPU backend in this run"},
    }
    text = markdown(record)
    header = next(line for line in text.splitlines() if line.startswith("| implementation"))
    assert "vs hand/seed NumPy" in header and "vs torch eager" not in header and "vs sklearn" not in header
    assert "2.00× (2.00×)" in text
    assert "Not run here:\n" in text and "- torch eager: needs a torch backend in --backends" in text
    assert "- sklearn: runs on mnist only" in text and "needs scikit-learn" not in text


def entry(workload, implementation, backend, t=1e-3):
    return {
        "workload": workload,
        "implementation": implementation,
        "backend": backend,
        "per_epoch_s": {"median": t, "min": t * 0.9, "max": t * 1.2},
        "per_step_s": t / 47,
        "samples_per_s": 6000 / t,
        "final_loss": None if implementation.startswith("gemm") else 0.123456789,
        "peak_host_mb": 123.4,
        "peak_device_mb": 5678.9,
    }


def fake_record(workloads, implementations, specs):
    """A record of every implementation on every spec, and every ratio of portnn to the others."""
    results = [entry(w, i, s) for w in workloads for s in specs for i in implementations]
    return {
        "machine": {
            "cpu": "AMD EPYC 9654 96-Core Processor " * 2,
            "cores": 192,
            "gpus": [{"name": "NVIDIA H200", "driver": "570"}],
        },
        "quick": False,
        "seconds": 12.3,
        "settings": {
            "workloads": {w: "784-256-256-10 relu, cross_entropy, batch 128, 60000 samples, float32" for w in workloads}
        },
        "results": results,
        "ratios": report.ratios(results),
        "sweep": [
            {"backend": s, "batch_size": b, "samples_per_s": 1e6} for s in specs for b in (16, 64, 256, 1024, 4096)
        ],
        "crossover": {"cupy:0": 256},
    }


def test_the_report_gives_the_reason_that_holds_for_a_missing_reference():
    with_sklearn = fake_record(["mnist"], ["portnn", "numpy-hand", "sklearn"], ["numpy"])
    with_sklearn["results"] += [entry("xor", i, "numpy") for i in ("portnn", "seed-loop")]
    with_sklearn["settings"]["workloads"]["xor"] = "2-3-1"
    for text in (report.markdown(with_sklearn), report.terminal(with_sklearn)):
        xor = text[text.index("**xor**") :]
        assert "- sklearn: runs on mnist only" in xor and "needs scikit-learn" not in text
    without = fake_record(["mnist"], ["portnn", "numpy-hand"], ["numpy"])
    assert "- sklearn: needs scikit-learn (pip install 'portnn[bench]')" in report.terminal(without)
    gpu_preset = fake_record(["mnist"], ["portnn", "gemm-floor"], ["cupy:0"])  # no host references
    assert "- sklearn: left out of this preset's mnist" in report.terminal(gpu_preset)


def test_the_terminal_report_keeps_within_120_columns():
    implementations = ["portnn", "gemm-floor", "gemm-needed", "torch-eager", "numpy-hand", "sklearn"]
    specs = ["numpy", "array_api_strict:no_float64", "torch:cpu", "torch:cuda", "jax:cpu", "cupy:0"]
    record = fake_record(["mnist", "large"], implementations, specs)
    wide = report.markdown(record)
    assert max(len(line) for line in wide.splitlines()) > 120  # the file's tables: every column
    text = report.terminal(record)
    assert max(len(line) for line in text.splitlines()) <= 120
    assert "| portnn | array_api_strict:no_float64 | 1.0 ms |" in text  # every figure row is there
    assert text.count("portnn on ") == 2 * len(specs) and "1.00× (1.00×) gemm-floor (numpy)" in text  # ratios in words
