"""`portnn train`, `evaluate` and `predict` on messy data: each problem a one-line message naming
the place as the user sees it (the file's line; the header is line 1) or a choice said aloud."""

import csv
import os
import subprocess
import sys

import numpy as np
import pytest

import portnn as pn
from portnn.cli import main


def write_rows(path, header, rows):
    with open(path, "w", newline="") as f:
        csv.writer(f).writerows([header, *rows])
    return str(path)


def labelled_rows(n=40, seed=0):
    """Rows of two numeric features and a text label (two well separated classes)."""
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, 2, size=n)
    X = np.where(labels[:, None] == 1, 2.0, -2.0) + 0.3 * rng.normal(size=(n, 2))
    return [[f"{a:.4f}", f"{b:.4f}", ["cat", "dog"][k]] for (a, b), k in zip(X, labels)]


def train(argv, capsys, epochs="2"):
    code = main(["train", *argv, "--epochs", epochs, "--no-progress"])
    out = capsys.readouterr()
    return code, out.out, out.err


def test_auto_task_reads_many_whole_numbers_as_values(tmp_path, capsys):
    rng = np.random.default_rng(0)
    X = rng.normal(size=(120, 3))
    y = np.round(100 + 30 * X[:, 0]).astype(int)  # like diabetes' target: whole numbers, many of them
    data = write_rows(tmp_path / "d.csv", ["a", "b", "c", "y"], [[*map(str, x), str(t)] for x, t in zip(X, y)])
    code, _, err = train(["--data", data, "--save", str(tmp_path / "m.safetensors")], capsys)
    assert code == 0 and len(set(y)) > 20
    assert f"holds {len(set(y))} distinct whole numbers" in err and "regression" in err and "--task classify" in err
    assert pn.load(str(tmp_path / "m.safetensors")).metadata["classes"] is None
    code, _, err = train(["--data", data, "--task", "classify", "--save", str(tmp_path / "c.safetensors")], capsys)
    assert code == 0 and err == "" and len(pn.load(str(tmp_path / "c.safetensors")).metadata["classes"]) == len(set(y))


def test_an_empty_label_is_refused_naming_its_line(tmp_path, capsys):
    rows = labelled_rows()
    rows[6][2] = ""  # data row 7: line 8 of the file
    code, _, err = train(
        ["--data", write_rows(tmp_path / "d.csv", ["a", "b", "label"], rows), "--target", "label"], capsys
    )
    assert code == 2 and "line 8 (the header is line 1)" in err and "the target 'label' is empty" in err


@pytest.mark.parametrize(
    "cell, says", [("NaN", "'NaN' is not a finite number"), ("inf", "'inf' is not a finite number")]
)
def test_a_non_finite_feature_names_the_line_of_the_file(tmp_path, capsys, cell, says):
    rows = labelled_rows()
    rows[4][1] = cell  # data row 5: line 6 of the file
    code, _, err = train(
        ["--data", write_rows(tmp_path / "d.csv", ["a", "b", "label"], rows), "--target", "label"], capsys
    )
    assert code == 2 and "line 6 (the header is line 1), column 'b'" in err and says in err
    assert err.count("\n") == 1  # one line


def test_a_non_finite_npz_value_names_its_row(tmp_path, capsys):
    X = np.ones((5, 2))
    X[3, 1] = np.nan
    np.savez(tmp_path / "d.npz", X=X, y=np.arange(5.0))
    code, _, err = train(["--data", str(tmp_path / "d.npz")], capsys)
    assert code == 2 and "row 3 (counting from 0), column 1" in err and "not a finite number" in err


def test_an_empty_feature_cell_says_the_value_is_missing_and_where(tmp_path, capsys):
    rows = labelled_rows()
    rows[9][0] = ""
    code, _, err = train(
        ["--data", write_rows(tmp_path / "d.csv", ["ash", "b", "label"], rows), "--target", "label"], capsys
    )
    assert code == 2 and "line 11 (the header is line 1), column 'ash': the value is missing" in err
    assert "not numeric" not in err


def test_a_text_feature_cell_is_named(tmp_path, capsys):
    rows = labelled_rows()
    rows[2][1] = "tall"
    code, _, err = train(
        ["--data", write_rows(tmp_path / "d.csv", ["a", "b", "label"], rows), "--target", "label"], capsys
    )
    assert code == 2 and "line 4 (the header is line 1), column 'b': 'tall' is not a number" in err


def test_a_pandas_index_column_is_left_out_and_said(tmp_path, capsys):
    rows = [[str(i), *row] for i, row in enumerate(labelled_rows())]  # as DataFrame.to_csv writes them
    data = write_rows(tmp_path / "d.csv", ["", "a", "b", "label"], rows)
    model = str(tmp_path / "m.safetensors")
    code, _, err = train(["--data", data, "--target", "label", "--save", model], capsys)
    assert code == 0 and "the first column has no name and holds 0 … 39: an index, left out" in err
    assert pn.load(model).metadata["features"] == ["a", "b"]
    assert main(["predict", model, "--data", data, "--out", str(tmp_path / "p.csv")]) == 0


def test_an_unnamed_first_column_that_is_not_an_index_stays_a_feature(tmp_path, capsys):
    rows = [[str(2 * i), *row] for i, row in enumerate(labelled_rows())]
    data = write_rows(tmp_path / "d.csv", ["", "a", "b", "label"], rows)
    model = str(tmp_path / "m.safetensors")
    code, _, err = train(["--data", data, "--target", "label", "--save", model], capsys)
    assert code == 0 and "index" not in err and pn.load(model).metadata["features"] == ["", "a", "b"]


@pytest.mark.parametrize(
    "target, metric, says",
    [("label", "r2", "'r2' measures a regression"), ("b", "accuracy", "'accuracy' measures a classification")],
)
def test_metrics_of_the_other_task_are_refused(tmp_path, capsys, target, metric, says):
    rows = [[a, b, "1" if label == "dog" else "0"] for a, b, label in labelled_rows()]  # all numbers
    data = write_rows(tmp_path / "d.csv", ["a", "b", "label"], rows)
    argv = ["--data", data, "--target", target, "--task", "regress" if target == "b" else "auto"]
    code, out, err = train([*argv, "--metrics", metric], capsys)
    assert code == 2 and says in err and out == ""  # refused before training
    model = str(tmp_path / "m.safetensors")
    assert train([*argv, "--save", model], capsys)[0] == 0
    assert main(["evaluate", model, "--data", data, "--metrics", metric]) == 2
    assert says in capsys.readouterr().err


def test_evaluate_accepts_target(tmp_path, capsys):
    data = write_rows(tmp_path / "d.csv", ["a", "b", "label"], labelled_rows())
    model = str(tmp_path / "m.safetensors")
    assert train(["--data", data, "--target", "label", "--save", model], capsys, epochs="20")[0] == 0
    assert main(["evaluate", model, "--data", data, "--target", "label"]) == 0
    same = capsys.readouterr().out
    renamed = write_rows(tmp_path / "r.csv", ["a", "b", "kind"], labelled_rows())
    assert main(["evaluate", model, "--data", renamed, "--target", "kind"]) == 0
    assert capsys.readouterr().out == same and "accuracy 1" in same


def test_a_missing_model_file_and_a_file_that_is_not_a_model_are_said(tmp_path, capsys):
    data = write_rows(tmp_path / "d.csv", ["a", "b", "label"], labelled_rows())
    missing = str(tmp_path / "nope.safetensors")
    for command in ("predict", "evaluate"):
        assert main([command, missing, "--data", data]) == 2
        assert capsys.readouterr().err == f"portnn: error: no such model file {missing!r}\n"
        for path in (data, tmp_path / "junk.bin"):
            (tmp_path / "junk.bin").write_bytes(bytes(range(256)) * 4)
            assert main([command, str(path), "--data", data]) == 2
            err = capsys.readouterr().err
            assert err.startswith(f"portnn: error: {str(path)!r} is not a portnn model file") and err.count("\n") == 1


# 60000 rows: more than a pipe holds, still being written at the close; 40: all in the buffer, flushed at exit
@pytest.mark.parametrize("rows", [60000, 40])
def test_predict_into_a_pipe_closed_early_ends_quietly(tmp_path, capsys, rows):
    data = write_rows(tmp_path / "d.csv", ["a", "b", "label"], labelled_rows(n=rows))
    model = str(tmp_path / "m.safetensors")
    assert train(["--data", data, "--target", "label", "--save", model], capsys, epochs="1")[0] == 0
    command = [sys.executable, "-m", "portnn.cli", "predict", model, "--data", data]
    env = {k: v for k, v in os.environ.items() if k != "PYTHONUNBUFFERED"}  # buffered, as users run it
    reader = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env)
    if rows > 1000:  # 300 KB of output, past a pipe's 64 KB: the writer blocks until the close
        assert reader.stdout.readline() == b"label\r\n"  # the csv module's line ending
    reader.stdout.close()  # as `| head -1` does: the rows still to come have no reader
    err = reader.stderr.read().decode()
    assert reader.wait(timeout=120) == 141 and err == ""  # 128 + SIGPIPE, as a shell reports it


def test_a_distributed_run_tells_its_choices_once(tmp_path):
    pytest.importorskip("mpi4py", reason="portnn.distributed needs mpi4py: pip install 'portnn[mpi]'")
    from test_distributed import launch

    rows = [[str(i), *row] for i, row in enumerate(labelled_rows())]
    data = write_rows(tmp_path / "d.csv", ["", "a", "b", "label"], rows)
    done = launch(2, "-m", "portnn", "train", "--data", data, "--target", "label", "--epochs", "1", "--distributed")
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stderr.count("an index, left out") == 1, done.stderr
