"""The ``portnn`` command."""

import subprocess
import sys

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
