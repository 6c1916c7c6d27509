"""portnn in a real Jupyter kernel (driven by nbclient): the chart of ``history.plot()`` shows, the
summary shows once, the progress bar falls back quietly and ends on the last epoch's numbers."""

import re

import pytest

import portnn as pn

SETUP = (
    "import sys\n"
    f"sys.path.insert(0, {str(pn.__file__.rsplit('/portnn/', 1)[0])!r})\n"
    "import portnn as pn\n"
    "X, y = pn.datasets.xor()\n"
    "net = pn.Sequential(pn.Dense(2, 4, activation='tanh'), pn.Dense(4, 1), seed=0)\n"
    "h = net.fit(X, y, epochs=5, metrics=['mae'], progress='auto')\n"
    "print('last', *[f'{k}={v[-1]:.4g}' for k, v in h.history.items()])\n"
)


@pytest.fixture(scope="module")
def cells(tmp_path_factory):
    """The outputs of four cells run in one kernel: fit, plot, summary, the widget library's presence."""
    nbformat = pytest.importorskip("nbformat")
    nbclient = pytest.importorskip("nbclient")
    pytest.importorskip("ipykernel")
    sources = [
        SETUP,
        "h.plot()",
        "net.summary()",
        "import importlib.util\nprint(importlib.util.find_spec('ipywidgets') is None)",
    ]
    notebook = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(s) for s in sources])
    path = str(tmp_path_factory.mktemp("nb"))
    client = nbclient.NotebookClient(
        notebook, timeout=120, kernel_name="python3", resources={"metadata": {"path": path}}
    )
    client.execute()
    return [cell.outputs for cell in notebook.cells]


def text_of(outputs):
    stream = "".join(o.get("text", "") for o in outputs if o.get("output_type") == "stream")
    shown = "".join(o.get("data", {}).get("text/plain", "") for o in outputs)
    return stream + shown


def test_history_plot_ending_a_cell_shows_the_chart(cells):
    pytest.importorskip("matplotlib")
    images = [o for o in cells[1] if "image/png" in o.get("data", {})]
    assert len(images) == 1, cells[1]


def test_summary_ending_a_cell_shows_the_table_once(cells):
    text = text_of(cells[2])
    assert text.count("trainable parameters") == 1, text
    assert "Dense(2 -> 4, Tanh)" in text


def test_the_bar_falls_back_quietly_and_ends_on_the_last_numbers(cells):
    everything = "".join(text_of(outputs) for outputs in cells)
    assert "IProgress" not in everything and "TqdmWarning" not in everything
    widgets = [o for o in cells[0] if "application/vnd.jupyter.widget-view+json" in o.get("data", {})]
    if widgets:  # ipywidgets installed: the widget's last state is not in the outputs
        return
    assert text_of(cells[3]).strip() == "True", "ipywidgets is installed but no widget was shown"
    out, err = ("".join(o["text"] for o in cells[0] if o.get("name") == name) for name in ("stdout", "stderr"))
    last = re.search(r"^last (.*)$", out, re.M).group(1).split()
    final_bar = err.strip().split("\r")[-1]
    assert "5/5" in final_bar
    for item in last:
        assert item in final_bar, (item, final_bar)
