"""A model saved by `portnn train --data` takes raw features: in Python (pn.load(model).predict)
and on the command line (`portnn predict`) alike; models saved before it still predict right."""

import csv

import numpy as np
import pytest

import portnn as pn
from portnn.cli import main


@pytest.fixture(scope="module")
def wine(tmp_path_factory):
    """scikit-learn's wine data (bundled with it) as a CSV, and a model `portnn train` saved from it."""
    datasets = pytest.importorskip("sklearn.datasets")
    bunch = datasets.load_wine()
    folder = tmp_path_factory.mktemp("wine")
    path, model = folder / "wine.csv", folder / "wine.safetensors"
    with open(path, "w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow([*bunch.feature_names, "label"])
        writer.writerows([[*map(repr, x), str(t)] for x, t in zip(bunch.data.tolist(), bunch.target)])
    argv = ["train", "--data", str(path), "--target", "label", "--epochs", "30", "--no-progress"]
    assert main([*argv, "--save", str(model)]) == 0
    return path, model, bunch.data, bunch.target


def cli_predictions(model, path, out):
    assert main(["predict", str(model), "--data", str(path), "--out", str(out)]) == 0
    with open(out, newline="") as f:
        return np.array([row[0] for row in list(csv.reader(f))[1:]])


def test_the_saved_model_predicts_from_raw_features_as_the_cli_does(wine, tmp_path, capsys):
    path, model, X, target = wine
    net = pn.load(model)
    assert isinstance(net.layers[0], pn.Standardize) and "mean" not in net.metadata
    in_python = np.array(net.metadata["classes"])[pn.to_numpy(net.predict(X)).argmax(axis=1)]
    on_the_command_line = cli_predictions(model, path, tmp_path / "p.csv")
    assert np.sum(in_python != on_the_command_line) == 0
    assert np.mean(in_python == target.astype(str)) > 0.9  # and it has learnt the task


def test_a_model_saved_with_the_statistics_in_its_metadata_still_predicts_right(wine, tmp_path, capsys):
    """A model saved before Standardize: the network after the statistics, the mean and deviation in
    the metadata. `portnn predict` applies them and agrees with the model of today."""
    path, model = wine[:2]
    net = pn.load(model)
    stats, rest = {k: pn.to_numpy(v.value) for k, v in zip(("mean", "var"), net.buffers())}, net.layers[1:]
    old = pn.Sequential(*[type(x)(**x.get_config()) for x in rest], seed=0)
    weights = {k: v for k, v in net.state_dict().items() if not k.startswith("0.")}
    old.load_state_dict({f"{int(k.split('.')[0]) - 1}.{k.split('.')[1]}": v for k, v in weights.items()})
    old.metadata = {**net.metadata, "mean": stats["mean"].tolist(), "std": np.sqrt(stats["var"]).tolist()}
    old.save(tmp_path / "old.safetensors")
    today = cli_predictions(model, path, tmp_path / "today.csv")
    before = cli_predictions(tmp_path / "old.safetensors", path, tmp_path / "old.csv")
    assert np.sum(today != before) == 0
