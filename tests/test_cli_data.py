"""`portnn train --data` on a CSV or NPZ you write, then `portnn evaluate` and `portnn predict`."""

import csv

import numpy as np
import pytest

from portnn.cli import main


def write_csv(path, n=120, seed=0):
    rng = np.random.default_rng(seed)
    names = np.array(["cat", "dog", "bird"])
    labels = rng.integers(0, 3, size=n)
    centers = np.array([[2.0, 0.0, 1.0], [-2.0, 1.0, 0.0], [0.0, -2.0, -1.0]])
    X = centers[labels] + 0.3 * rng.normal(size=(n, 3))
    with open(path, "w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["height", "label", "width", "depth"])  # the target need not be last
        for x, label in zip(X, names[labels]):
            writer.writerow([f"{x[0]:.5f}", label, f"{x[1]:.5f}", f"{x[2]:.5f}"])
    return names[labels]


def test_train_evaluate_predict_on_my_csv(tmp_path, capsys):
    data, model, out = tmp_path / "my.csv", tmp_path / "m.safetensors", tmp_path / "pred.csv"
    truth = write_csv(data)
    argv = ["train", "--data", str(data), "--target", "label", "--val-split", "0.25", "--epochs", "60"]
    assert main([*argv, "--hidden", "16", "--no-progress", "--save", str(model)]) == 0
    printed = capsys.readouterr().out
    assert "val_accuracy" in printed and "saved to" in printed
    assert main(["evaluate", str(model), "--data", str(data)]) == 0
    results = dict(zip(*[iter(capsys.readouterr().out.split())] * 2))
    assert set(results) == {"loss", "accuracy"} and float(results["accuracy"]) > 0.9
    assert main(["predict", str(model), "--data", str(data), "--out", str(out)]) == 0
    with open(out, newline="") as f:
        rows = list(csv.reader(f))
    assert rows[0] == ["label"] and len(rows) == len(truth) + 1
    assert np.mean(np.array([r[0] for r in rows[1:]]) == truth) > 0.9  # the user's labels come back


def test_train_on_an_npz_with_regression_targets(tmp_path, capsys):
    rng = np.random.default_rng(1)
    X = rng.normal(size=(80, 4))
    np.savez(tmp_path / "d.npz", X=X, y=X @ np.array([1.0, -2.0, 0.5, 0.0]) + 0.1)
    argv = ["train", "--data", str(tmp_path / "d.npz"), "--epochs", "100", "--metrics", "mae,r2", "--no-progress"]
    assert main(argv) == 0
    out = capsys.readouterr().out
    r2 = float(out.split("r2 ")[1].split()[0])
    assert r2 > 0.9


@pytest.mark.parametrize(
    "argv, message",
    [
        (["--target", "nope"], "no column 'nope'"),
        (["--target", "label", "--val-split", "1.5"], "--val-split: expected a fraction"),
        (["--target", "label", "--task", "regress"], "is not numeric"),
    ],
)
def test_bad_data_options_are_named(tmp_path, capsys, argv, message):
    write_csv(tmp_path / "my.csv")
    assert main(["train", "--data", str(tmp_path / "my.csv"), "--no-progress", *argv]) == 2
    assert message in capsys.readouterr().err


def rewrite_labels(src, dst, column, values):
    """A copy of CSV ``src`` whose ``column`` holds ``values`` (repeated to fill the rows)."""
    with open(src, newline="") as f:
        rows = list(csv.reader(f))
    j = rows[0].index(column)
    for i, row in enumerate(rows[1:]):
        row[j] = values[i % len(values)]
    with open(dst, "w", newline="") as f:
        csv.writer(f).writerows(rows)


def train_saved(tmp_path, data, target, capsys):
    model = tmp_path / "m.safetensors"
    argv = ["train", "--data", str(data), "--target", target, "--epochs", "2", "--no-progress"]
    assert main([*argv, "--save", str(model)]) == 0
    capsys.readouterr()
    return model


@pytest.mark.parametrize("labels", [["1.7", "0", "2"], ["cat", "1"]])
def test_evaluate_refuses_labels_that_are_not_the_model_s_whole_number_classes(tmp_path, capsys, labels):
    write_csv(tmp_path / "words.csv")
    rewrite_labels(tmp_path / "words.csv", tmp_path / "ints.csv", "label", ["0", "1", "2"])
    model = train_saved(tmp_path, tmp_path / "ints.csv", "label", capsys)
    rewrite_labels(tmp_path / "words.csv", tmp_path / "bad.csv", "label", labels)
    assert main(["evaluate", str(model), "--data", str(tmp_path / "bad.csv")]) == 2
    err = capsys.readouterr().err
    assert "--data" in err and "bad.csv" in err and "'label'" in err and repr(labels[0]) in err
    assert "could not convert" not in err


def test_evaluate_refuses_a_regression_target_that_is_not_numeric(tmp_path, capsys):
    write_csv(tmp_path / "words.csv")
    rewrite_labels(tmp_path / "words.csv", tmp_path / "ints.csv", "label", ["0", "1", "2"])
    model = train_saved(tmp_path, tmp_path / "ints.csv", "height", capsys)
    rewrite_labels(tmp_path / "ints.csv", tmp_path / "bad.csv", "height", ["tall", "1.5"])
    assert main(["evaluate", str(model), "--data", str(tmp_path / "bad.csv")]) == 2
    err = capsys.readouterr().err
    assert "--data" in err and "bad.csv" in err and "'height'" in err and "'tall'" in err


def test_a_csv_ending_with_a_blank_line_is_read(tmp_path):
    from portnn.cli.datafiles import read_table

    path = tmp_path / "blank.csv"
    path.write_text("a,b,label\n1,2,x\n\n3,4,y\n\n")
    table = read_table(str(path), "label")
    assert table.X.tolist() == [[1.0, 2.0], [3.0, 4.0]] and table.classes == ["x", "y"]


@pytest.mark.parametrize("fraction, message", [("0.999", "no rows left to train on"), ("0.001", "no validation")])
def test_a_val_split_that_empties_a_side_is_refused(tmp_path, capsys, fraction, message):
    write_csv(tmp_path / "my.csv")
    argv = ["train", "--data", str(tmp_path / "my.csv"), "--target", "label", "--val-split", fraction]
    assert main([*argv, "--epochs", "1", "--no-progress"]) == 2
    err = capsys.readouterr().err
    assert "--val-split" in err and message in err


def test_standardisation_uses_the_training_rows_only(tmp_path, capsys):
    import portnn as pn
    from portnn.cli.datafiles import read_table
    from portnn.cli.train import _split

    write_csv(tmp_path / "words.csv")
    rewrite_labels(tmp_path / "words.csv", tmp_path / "ints.csv", "label", ["0", "1", "2"])
    model = tmp_path / "m.safetensors"
    argv = ["train", "--data", str(tmp_path / "ints.csv"), "--target", "label", "--val-split", "0.5"]
    assert main([*argv, "--epochs", "1", "--no-progress", "--seed", "3", "--save", str(model)]) == 0
    table = read_table(str(tmp_path / "ints.csv"), "label")
    rows = read_table(str(tmp_path / "ints.csv"), "label")
    rows.X = np.arange(len(rows.X))[:, None]
    train_rows = _split(rows, 0.5, 3)[0].X.ravel()  # which rows the split kept for training
    stats = pn.load(str(model)).state_dict()  # the model's Standardize layer (float32)
    np.testing.assert_allclose(stats["0.mean"], table.X[train_rows].mean(axis=0), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(stats["0.var"], table.X[train_rows].var(axis=0), rtol=1e-5)


def test_predict_names_a_single_output_column_like_the_target(tmp_path, capsys):
    write_csv(tmp_path / "words.csv")
    rewrite_labels(tmp_path / "words.csv", tmp_path / "ints.csv", "label", ["0", "1", "2"])
    model = train_saved(tmp_path, tmp_path / "ints.csv", "height", capsys)
    assert main(["predict", str(model), "--data", str(tmp_path / "ints.csv"), "--out", str(tmp_path / "p.csv")]) == 0
    with open(tmp_path / "p.csv", newline="") as f:
        rows = list(csv.reader(f))
    assert rows[0] == ["height"] and len(rows) == 121 and float(rows[1][0]) == float(rows[1][0])
