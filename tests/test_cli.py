"""The ``portnn`` command."""

import csv
import subprocess
import sys

import numpy as np
import pytest

from portnn.cli import main


def test_info_lists_backends(capsys):
    assert main(["info"]) == 0
    out = capsys.readouterr().out
    assert "available backends: numpy" in out


def test_train_on_a_builtin_dataset(capsys, tmp_path):
    path = tmp_path / "m.safetensors"
    assert main(["train", "--epochs", "30", "--no-progress", "--save", str(path)]) == 0
    out = capsys.readouterr().out
    assert "accuracy" in out and path.exists()


def test_bad_backend_is_a_clean_error(capsys):
    assert main(["demo", "neuron", "--backend", "nope"]) == 2
    assert "unknown spec 'nope'" in capsys.readouterr().err


def test_console_script_entry_point():
    done = subprocess.run([sys.executable, "-m", "portnn.cli", "--version"], capture_output=True, text=True, check=True)
    assert done.stdout.startswith("portnn ")


def test_train_defaults_train_a_table_well(tmp_path, capsys):
    """`portnn train --data` with no training options learns a 2-D checkerboard of 4000 rows (the
    seed-faithful single full-batch step per epoch left it at 0.76 held-out accuracy)."""
    rng = np.random.default_rng(0)
    X = rng.uniform(-2.5, 2.5, size=(4000, 2))
    label = (np.floor(X[:, 0]).astype(int) + np.floor(X[:, 1]).astype(int)) % 2
    path = tmp_path / "checker.csv"
    with open(path, "w", newline="") as f:
        csv.writer(f).writerows([["a", "b", "label"], *([f"{a:.4f}", f"{b:.4f}", k] for (a, b), k in zip(X, label))])
    assert main(["train", "--data", str(path), "--target", "label", "--val-split", "0.2", "--no-progress"]) == 0
    held_out = float(capsys.readouterr().out.split("val_accuracy ")[1].split()[0])
    assert held_out > 0.8


def test_train_help_states_the_defaults(capsys):
    with pytest.raises(SystemExit):
        main(["train", "--help"])
    text = " ".join(capsys.readouterr().out.split())
    assert "Adam at --lr 0.003, --batch-size 32, --epochs 50" in text and "(default: 32)" in text
    assert "97-98% held-out" in text


def test_train_takes_the_full_batch_when_asked(capsys):
    assert main(["train", "--batch-size", "all", "--epochs", "2", "--no-progress"]) == 0
    assert "in 2 epochs" in capsys.readouterr().out
