"""What fit shows: a bar in a terminal or a notebook, plain lines on request, nothing otherwise."""

import re

import pytest

import portnn as pn
from portnn.train import progress


def small_fit(**kwargs):
    X, y = pn.datasets.xor()
    net = pn.Sequential(pn.Dense(2, 3), pn.Tanh(), pn.Dense(3, 1), seed=0)
    return net.fit(X, y, epochs=3, validation_data=(X, y), **kwargs)


def test_lines_print_one_plain_line_per_epoch(capsys):
    small_fit(progress="lines")
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 3
    for i, line in enumerate(lines, start=1):
        assert re.fullmatch(rf"epoch {i}/3  loss \S+  val_loss \S+  \S+ s", line), line


def test_auto_shows_nothing_where_nothing_is_interactive(capsys):
    small_fit(progress="auto")  # pytest captures stderr: not a terminal, not a notebook
    assert capsys.readouterr().err == ""


def test_a_bad_progress_value_is_refused():
    with pytest.raises(ValueError, match="progress: expected one of"):
        small_fit(progress="verbose")
    assert progress.resolve(False) is None and progress.resolve("bar") == "bar"


def test_in_a_jupyter_kernel_auto_shows_a_bar(tmp_path):
    """A real kernel, driven by nbclient: the cell's output carries tqdm's notebook bar (a widget
    where ipywidgets is installed, its text form otherwise)."""
    nbformat = pytest.importorskip("nbformat")
    nbclient = pytest.importorskip("nbclient")
    pytest.importorskip("ipykernel")
    code = (
        "import sys\n"
        f"sys.path.insert(0, {str(pn.__file__.rsplit('/portnn/', 1)[0])!r})\n"
        "import portnn as pn\n"
        "X, y = pn.datasets.xor()\n"
        "net = pn.Sequential(pn.Dense(2, 3), pn.Tanh(), pn.Dense(3, 1), seed=0)\n"
        "h = net.fit(X, y, epochs=4)\n"
        "print(pn.train.progress.in_notebook(), len(h.history['loss']))\n"
    )
    notebook = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(code)])
    client = nbclient.NotebookClient(
        notebook, timeout=120, kernel_name="python3", resources={"metadata": {"path": str(tmp_path)}}
    )
    client.execute()  # kernel "python3" is this interpreter (jupyter_client's native kernel)
    outputs = notebook.cells[0].outputs
    text = "".join(o.get("text", "") for o in outputs if o.get("output_type") == "stream")
    widgets = [o for o in outputs if "application/vnd.jupyter.widget-view+json" in o.get("data", {})]
    assert "True 4" in text
    assert widgets or re.search(r"4/4", text), outputs


def test_the_bar_ends_on_the_last_epoch_s_numbers(capsys):
    """Epochs faster than the bar's redraws: its final line still shows the last epoch's logs."""
    h = small_fit(progress="bar", metrics=["mae"])
    final = capsys.readouterr().err.split("\r")[-1]
    for key in ("loss", "val_loss", "mae", "val_mae"):
        assert f"{key}={h.history[key][-1]:.4g}" in final, final
    assert "3/3" in final


def test_the_bar_takes_tqdm_s_text_bar_outside_a_notebook_or_without_ipywidgets(monkeypatch):
    from tqdm.std import tqdm

    assert progress.bar_class() is tqdm  # pytest: no notebook
    monkeypatch.setattr(progress, "in_notebook", lambda: True)
    monkeypatch.setattr(progress.importlib.util, "find_spec", lambda name: None)
    assert progress.bar_class() is tqdm  # a notebook without ipywidgets: no "IProgress not found"
