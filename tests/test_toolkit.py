"""Looking at a model and a run: summary(), History.plot(), and the CLI's help and argument checks."""

import sys

import pytest

import portnn as pn
from portnn.cli import main


def test_summary_lists_layers_sizes_parameters_and_placement(bk, capsys):
    net = pn.Sequential(pn.Dense(4, 8), pn.ReLU(), pn.Dropout(0.1), pn.Dense(8, 3), backend=bk, seed=0)
    text = net.summary()
    assert capsys.readouterr().out.strip() == text
    lines = text.splitlines()
    assert len(lines) == 1 + 4 + 1
    assert lines[1].split()[1:] == ["Dense(4", "->", "8)", "8", "40", "0"]
    assert lines[4].split()[-3:] == ["3", "27", "0"]
    assert f"total: {net.num_parameters()} trainable parameters" in lines[-1] and bk.spec in lines[-1]


def test_history_plot_draws_every_logged_curve(tmp_path):
    pytest.importorskip("matplotlib")
    X, y = pn.datasets.xor()
    net = pn.Sequential(pn.Dense(2, 4), pn.Tanh(), pn.Dense(4, 1), seed=0)
    history = net.fit(X, y, epochs=5, validation_data=(X, y), progress=False)
    history.history["lr"] = [0.1] * 5  # what a callback may add
    fig = history.plot(tmp_path / "h.png")
    assert (tmp_path / "h.png").stat().st_size > 0
    titles = [ax.get_title() for ax in fig.axes]
    assert titles == ["loss", "lr"]
    assert [line.get_label() for line in fig.axes[0].lines] == ["loss", "val_loss"]


def test_history_plot_leaves_the_backend_and_pyplot_alone(tmp_path):
    matplotlib = pytest.importorskip("matplotlib")
    import matplotlib.pyplot as plt

    backend = matplotlib.get_backend()
    figures = plt.get_fignums()
    history = pn.History()
    history.history = {"loss": [1.0, 0.5], "val_loss": [1.1, 0.7]}
    fig = history.plot(tmp_path / "h.png")
    history.plot()
    assert matplotlib.get_backend() == backend  # a Jupyter inline backend stays inline
    assert plt.get_fignums() == figures  # nothing left open in pyplot's registry
    assert isinstance(fig, matplotlib.figure.Figure) and (tmp_path / "h.png").stat().st_size > 0


def test_history_plot_without_matplotlib_says_how_to_install(monkeypatch):
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    monkeypatch.setitem(sys.modules, "matplotlib.figure", None)
    history = pn.History()
    history.history = {"loss": [1.0]}
    with pytest.raises(ImportError, match=r"pip install 'portnn\[plot\]'"):
        history.plot()


def test_history_plot_before_training_says_so():
    pytest.importorskip("matplotlib")
    with pytest.raises(ValueError, match="nothing to plot"):
        pn.History().plot()


@pytest.mark.parametrize("command", ["train", "demo", "bench"])
def test_every_option_s_help_shows_its_default(command, capsys):
    with pytest.raises(SystemExit):
        main([command, "--help"])
    out = capsys.readouterr().out
    out = out[out.index("options:") :]  # past the usage line
    options = [line.split()[0] for line in out.splitlines() if line.strip().startswith("--")]
    assert options and "(default:" in out
    for option in options:
        block = out[out.index(option) :].split("\n  --")[0]
        if option not in ("--help", "--quick", "--gpu", "--no-progress"):
            assert "default:" in block, f"{command} {option}: no default shown"


@pytest.mark.parametrize(
    "argv", [["demo", "xor", "--epochs", "0"], ["train", "--epochs", "-3"], ["train", "--batch-size", "0"]]
)
def test_non_positive_counts_are_refused(argv, capsys):
    with pytest.raises(SystemExit) as info:
        main(argv)
    assert info.value.code == 2 and "expected a positive int" in capsys.readouterr().err
