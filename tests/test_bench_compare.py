"""pn.bench.compare and `portnn bench --data`: a user's network on a user's data across backends.

Timings are never asserted: only the method (same start, same shuffles, interleaving), the
agreement check, the record and the command line."""

import csv
import json

import numpy as np
import pytest
from readme_blocks import python_block

import portnn as pn
from portnn.bench import agreement
from portnn.bench.comparison import build_record
from portnn.cli import main

CPU = [s for s in ("numpy", "array_api_strict", "torch:cpu") if s in pn.available_backends()]
SEEN: list[tuple[str, np.ndarray]] = []  # what Probe saw in training: (backend, its input's first row)


class Probe(pn.Layer):
    """Identity that records the backend and its input in training (a test's own layer)."""

    registry_name = "test_bench_compare.Probe"
    output_kind = "same"

    def forward(self, X, training):
        if training:
            SEEN.append((self.backend.spec, pn.to_numpy(X[0, ...])))
        return X, lambda dY, input_grad=True: dY


def wrong_on_torch():
    """A user's layer with a bug on one backend: it scales by 1.5 where arrays are torch tensors
    (where torch is not installed, wherever arrays are not NumPy's). Defined when a test asks for
    it, so that the layer-contract suite, which checks every layer registered when it is
    collected, does not take this deliberately wrong one for a portnn layer."""

    class WrongOnTorch(pn.Layer):
        registry_name = "test_bench_compare.WrongOnTorch"
        output_kind = "same"

        def bind(self, backend, dtype):
            super().bind(backend, dtype)
            wrong = backend.torch_device is not None if "torch:cpu" in CPU else not backend.arrays_are_numpy
            self.scale = 1.5 if wrong else 1.0

        def forward(self, X, training):
            scale = self.scale
            return X * scale, lambda dY, input_grad=True: dY * scale

    pn.register_layer(WrongOnTorch)  # registered as a user registers theirs (again: it is already)
    return WrongOnTorch()


def data(n=96, features=6, classes=3, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, features))
    return X, (X[:, 0] > 0).astype(np.int64) + (X[:, 1] > 0.5)


def net(*middle, dtype="float64"):
    return pn.Sequential(pn.Dense(6, 8), *middle, pn.Tanh(), pn.Dense(8, 3), dtype=dtype, seed=0)


def run(model, backends=CPU, **kwargs):
    X, y = data()
    settings = {"loss": "cross_entropy", "optimizer": pn.optim.SGD(lr=0.1), "batch_sizes": (16, 96), "repeats": 2}
    return pn.bench.compare(model, X, y, backends=backends, **{**settings, **kwargs})


def test_same_starting_weights_and_shuffles_on_every_backend_and_repeat():
    SEEN.clear()
    result = run(net(Probe()), batch_sizes=(16,), dtypes="float64")
    by_backend = {}
    for spec, row in SEEN:
        by_backend.setdefault(spec, []).append(row)
    assert set(by_backend) == set(CPU)
    steps = 96 // 16
    first = by_backend["numpy"]
    for rows in by_backend.values():
        assert len(rows) == 3 * steps  # the warm-up and two timed runs
        for repeat in range(3):  # each run: the same batches in the same order, from the same weights
            np.testing.assert_allclose(rows[repeat * steps : (repeat + 1) * steps], first[:steps], rtol=1e-12)
    assert all(r["agrees"] for r in result.rows)


def test_repeats_are_interleaved_across_contestants():
    SEEN.clear()
    run(net(Probe()), batch_sizes=(96,), dtypes="float64", repeats=3)  # one step per run
    order = [spec for spec, _ in SEEN]
    assert order == CPU * 4  # the warm-ups in turn, then each repeat of every backend in turn


def test_a_layer_wrong_on_one_backend_is_flagged_and_not_crowned(tmp_path):
    result = run(net(wrong_on_torch()), dtypes=("float32", "float64"))
    wrong = "torch:cpu" if "torch:cpu" in CPU else "array_api_strict"
    for row in result.rows:
        assert row["agrees"] == (row["backend"] != wrong), row
        assert row["reference"] == "numpy"
    assert result.fastest != wrong
    assert len(result.disagreements) == 4 and all(wrong in d and "DISAGREES" in d for d in result.disagreements)
    text = result.to_markdown()
    assert f"{wrong} ⚠" in text and "| NO |" in text and "DISAGREES" in text
    every = [s for s in pn.available_backends() if not pn.get_backend(s).on_gpu]
    fine = run(net(), backends=every, dtypes=("float32", "float64"), epochs=5)  # without the bug: all agree
    assert all(r["agrees"] for r in fine.rows) and not fine.disagreements and "DISAGREES" not in fine.to_markdown()


def test_the_json_record_describes_the_machine_and_every_row(tmp_path):
    result = run(net(), metrics=["accuracy"])
    result.to_json(tmp_path / "r.json")
    record = json.loads((tmp_path / "r.json").read_text())
    assert {"machine", "settings", "rows", "fastest", "crossover", "crossover_sentence", "unavailable"} <= set(record)
    assert {"cpu", "cores", "gpus", "versions"} <= set(record["machine"]) and "numpy" in record["machine"]["versions"]
    assert record["settings"]["samples"] == 96 and record["settings"]["batch_sizes"] == [16, 96]
    assert len(record["rows"]) == 2 * len(CPU)
    for row in record["rows"]:
        t = row["per_epoch_s"]
        assert t["min"] <= t["median"] <= t["max"] and len(t["samples"]) == 2
        assert row["steps_per_epoch"] == 96 // row["batch_size"]
        assert {"samples_per_s", "peak_host_mb", "peak_device_mb", "final_loss", "vs_fastest", "vs_numpy"} <= set(row)
        assert set(row["metrics"]) == {"accuracy"} and row["agrees"]
        assert row["vs_numpy"] == (1.0 if row["backend"] == "numpy" else row["vs_numpy"]) and row["vs_numpy"] > 0
    assert min(r["vs_fastest"] for r in record["rows"]) == 1.0
    assert record["fastest"]["backend"] == result.fastest


def test_the_table_fits_120_columns_and_names_what_did_not_run():
    result = run(net(), backends=["numpy", "array_api_strict:no_float64", "cupy:0"], dtypes=("float32", "float64"))
    lines = result.to_markdown().splitlines()
    assert max(len(line) for line in lines) <= 120
    text = "\n".join(lines)
    assert "Skipped: array_api_strict:no_float64 in float64 (no float64 on this device)." in text
    if "cupy:0" in result.record["unavailable"]:  # not installed here: named with the reason
        assert "Not available: cupy:0 (" in text and result.record["unavailable"]["cupy:0"]


def test_a_backend_that_cannot_run_is_named_with_why():
    missing = pn.bench.unavailable(["numpy", "array_api_strict:nope"])
    assert list(missing) == ["array_api_strict:nope"] and "'nope'" in missing["array_api_strict:nope"]
    result = run(net(), backends=["numpy", "array_api_strict:nope"], batch_sizes=(96,), repeats=1)
    assert result.record["unavailable"] == missing and {r["backend"] for r in result.rows} == {"numpy"}
    not_here = [s for s, why in pn.bench.unavailable().items() if "No module named" in why]
    for spec in not_here:  # a library not installed: its import error is the reason
        assert spec.split(":")[0] in pn.bench.unavailable()[spec]


def test_the_crossover_sentence_names_where_each_backend_overtakes_numpy():
    def row(backend, batch, speed):
        t = {"median": 1.0 / speed, "min": 1.0 / speed, "max": 1.0 / speed, "samples": [1.0 / speed]}
        return {
            "backend": backend,
            "dtype": "float32",
            "batch_size": batch,
            "samples_per_s": speed,
            "per_epoch_s": t,
            "agrees": True,
        }

    rows = [row("numpy", 32, 10.0), row("numpy", 256, 20.0), row("torch:cpu", 32, 5.0), row("torch:cpu", 256, 40.0)]
    rows.append(row("jax:cpu", 32, 1.0))
    record = build_record({"dtypes": ["float32"]}, rows, {}, [])
    assert record["crossover"] == {"float32": {"torch:cpu": 256, "jax:cpu": None}}
    assert record["crossover_sentence"] == (
        "On this network, torch:cpu trains faster than NumPy from batch size 256; jax:cpu at none of the sizes swept."
    )
    assert record["fastest"] == {"backend": "torch:cpu", "dtype": "float32", "batch_size": 256}
    assert [r["vs_numpy"] for r in rows] == [1.0, 1.0, 2.0, 0.5, 10.0]


class Weights:
    """Stands in for a trained network: agreement.check reads only its state_dict."""

    def __init__(self, w):
        self.w = np.asarray(w, dtype=np.float64)

    def state_dict(self):
        return {"0.weight": self.w}


@pytest.mark.parametrize(
    ("change", "loss", "agrees"),
    [
        (1e-5, 0.0, {"float32": True, "float64": False}),  # float32's rounding, float64's disagreement
        (1e-9, 1e-9, {"float32": True, "float64": True}),
        (0.0, 1e-2, {"float32": False, "float64": False}),  # the loss alone gives it away
        (1e-2, 0.0, {"float32": False, "float64": False}),  # the weights' change alone gives it away
    ],
)
def test_agreement_compares_loss_and_weight_change_within_the_dtype_s_tolerance(change, loss, agrees):
    start = np.array([5.0, 5.0, 5.0, 5.0])
    step = np.array([0.1, -0.1, 0.2, 0.0])  # what training changed on the reference: small beside the weights
    for dtype, expected in agrees.items():
        rows = [
            {"backend": "numpy", "dtype": dtype, "batch_size": 8, "final_loss": 1.0},
            {"backend": "torch:cpu", "dtype": dtype, "batch_size": 8, "final_loss": 1.0 + loss},
        ]
        nets = [Weights(start + step), Weights(start + step * (1 + change))]
        agreement.check(rows, nets, start)
        assert rows[0]["agrees"] and rows[1]["reference"] == "numpy"
        assert rows[1]["agrees"] is expected, (dtype, rows[1]["difference"])
        assert rows[1]["difference"]["weights"] == pytest.approx(change, rel=1e-2, abs=1e-15)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"batch_sizes": (0,)}, "batch_sizes: expected positive ints"),
        ({"dtypes": ("float16",)}, "dtypes: expected some of"),
        ({"epochs": 0}, "epochs: expected a positive int"),
        ({"backends": "numpy"}, "backends: expected a list of spec strings"),
        ({"backends": ["tensorflow"]}, "backends: unknown spec 'tensorflow'"),
    ],
)
def test_bad_settings_are_refused_naming_the_argument(kwargs, message):
    with pytest.raises((ValueError, TypeError), match=message):
        run(net(), **kwargs)


def test_bad_model_and_data_are_refused():
    X, y = data()
    with pytest.raises(TypeError, match="model: expected a portnn network"):
        pn.bench.compare("mlp", X, y)
    with pytest.raises(ValueError, match="X: the model takes 6 features"):
        pn.bench.compare(net(), X[:, :4], y)
    with pytest.raises(ValueError, match="y: expected 96 rows"):
        pn.bench.compare(net(), X, y[:5])
    result = pn.bench.compare(net, X, y, loss="cross_entropy", backends=["numpy"], batch_sizes=96, repeats=1)
    assert len(result.rows) == 1  # a function returning the network works too


def write_csv(path, n=120):
    X, y = data(n)
    with open(path, "w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow([f"x{i}" for i in range(X.shape[1])] + ["label"])
        writer.writerows([*map(str, row), "abc"[label]] for row, label in zip(X, y))


@pytest.mark.parametrize("source", ["model", "hidden"])
def test_the_command_on_a_csv(tmp_path, capsys, source):
    csv_path, model = tmp_path / "d.csv", tmp_path / "m.safetensors"
    write_csv(csv_path)
    if source == "model":
        argv = ["train", "--data", str(csv_path), "--target", "label", "--epochs", "1", "--save", str(model)]
        assert main([*argv, "--no-progress"]) == 0
        capsys.readouterr()  # train's own report
    which = ["--model", str(model)] if source == "model" else ["--hidden", "8,8"]
    out, chart = tmp_path / "r.json", tmp_path / "c.png"
    argv = ["bench", "--data", str(csv_path), "--target", "label", *which, "--batch-sizes", "16,120"]
    argv += ["--backends", "numpy,array_api_strict", "--dtypes", "float32,float64", "--epochs", "2"]
    assert main([*argv, "--repeats", "1", "--out", str(out), "--plot", str(chart)]) == 0
    printed = capsys.readouterr().out
    assert max(len(line) for line in printed.splitlines()) <= 120
    assert "| array_api_strict | float64 | 120 |" in printed and "| NO |" not in printed
    record = json.loads(out.read_text())
    assert len(record["rows"]) == 8 and record["settings"]["loss"] == "cross_entropy"
    assert record["settings"]["samples"] == 120 and all(set(r["metrics"]) == {"accuracy"} for r in record["rows"])
    assert chart.read_bytes()[:4] == b"\x89PNG"


def test_the_command_on_an_npz_regression_and_its_errors(tmp_path, capsys):
    X, _ = data()
    np.savez(tmp_path / "d.npz", X=X, y=X[:, 0] * 2.0)
    argv = ["bench", "--data", str(tmp_path / "d.npz"), "--hidden", "4", "--backends", "numpy", "--repeats", "1"]
    assert main([*argv, "--batch-sizes", "32,4096"]) == 0
    printed = capsys.readouterr().out
    assert "| numpy | float32 | 32 |" in printed and "| numpy | float32 | 96 |" in printed
    assert "Batch size 4096 is more than the 96 rows: timed as the full batch, 96." in printed
    assert main([*argv, "--model", "m.safetensors"]) == 2
    assert "--model and --hidden: choose one" in capsys.readouterr().err
    assert main([*argv, "--batch-sizes", "32,x"]) == 2
    assert "--batch-sizes: expected comma-separated positive ints, got '32,x'" in capsys.readouterr().err
    assert main(["bench", "--hidden", "4"]) == 2
    assert "--data is needed" in capsys.readouterr().err
    pn.Sequential(pn.Dense(3, 1), seed=0).save(tmp_path / "three.safetensors")
    assert main(["bench", "--data", str(tmp_path / "d.npz"), "--model", str(tmp_path / "three.safetensors")]) == 2
    assert "three.safetensors' takes 3 features; --data has 6" in capsys.readouterr().err


def test_plot_saves_a_png(tmp_path):
    pytest.importorskip("matplotlib")
    figure = run(net(), backends=["numpy"], repeats=1).plot(tmp_path / "c.png")
    assert (tmp_path / "c.png").read_bytes()[:4] == b"\x89PNG" and figure._repr_png_()[:4] == b"\x89PNG"


def test_plot_shows_in_a_jupyter_kernel(tmp_path):
    """A real kernel, driven by nbclient: the cell ending with result.plot() outputs an image/png."""
    nbformat = pytest.importorskip("nbformat")
    nbclient = pytest.importorskip("nbclient")
    pytest.importorskip("ipykernel")
    pytest.importorskip("matplotlib")
    code = (
        "import sys\n"
        f"sys.path.insert(0, {str(pn.__file__.rsplit('/portnn/', 1)[0])!r})\n"
        "import portnn as pn\n"
        "X, y = pn.datasets.xor()\n"
        "net = pn.Sequential(pn.Dense(2, 3), pn.Tanh(), pn.Dense(3, 1), seed=0)\n"
        "result = pn.bench.compare(net, X, y, backends=['numpy'], batch_sizes=[2, 4], repeats=1)\n"
        "result.plot()\n"
    )
    notebook = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(code)])
    client = nbclient.NotebookClient(
        notebook, timeout=120, kernel_name="python3", resources={"metadata": {"path": str(tmp_path)}}
    )
    client.execute()
    outputs = notebook.cells[0].outputs
    images = [o for o in outputs if "image/png" in o.get("data", {})]
    assert len(images) == 1, outputs


def test_the_readme_example_runs_as_written(tmp_path, monkeypatch, capsys):
    """The README's block, on 200 of digits' rows and one repeat (its real run takes a minute)."""
    pytest.importorskip("sklearn")
    pytest.importorskip("matplotlib")

    real = pn.bench.compare

    def smaller(net, X, y, **kwargs):
        backends = [b for b in kwargs.pop("backends") if b in CPU]
        return real(net, X[:200], y[:200], **{**kwargs, "backends": backends, "repeats": 1, "batch_sizes": (64, 200)})

    monkeypatch.setattr(pn.bench, "compare", smaller)
    monkeypatch.chdir(tmp_path)
    scope: dict = {}
    exec(compile(python_block("## Benchmark your own model"), "README.md", "exec"), scope)
    assert scope["result"].fastest in CPU and len(scope["result"].rows) == 2 * len(CPU)
    assert (tmp_path / "digits-compare.png").read_bytes()[:4] == b"\x89PNG"
    assert json.loads((tmp_path / "digits-compare.json").read_text())["settings"]["samples"] == 200
    assert "| numpy | float32 | 64 |" in capsys.readouterr().out
