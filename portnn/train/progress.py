"""What ``fit`` shows while it trains: a progress bar in a terminal or a Jupyter notebook (tqdm's
widget where ipywidgets is installed, its text bar elsewhere), one plain line per epoch where
nothing is interactive (a log file, CI), or nothing.

``progress="auto"`` picks the bar in a terminal or a notebook and nothing elsewhere;
``"lines"`` prints ``epoch 3/100  loss 0.1234  val_loss 0.2345  0.52 s`` to stderr per epoch.
"""

from __future__ import annotations

import importlib.util
import sys
import time
from typing import Any

CHOICES = (True, False, "auto", "bar", "lines")


def in_notebook() -> bool:
    """True inside a Jupyter kernel (IPython's ZMQ shell), where stderr is not a terminal."""
    ipython = sys.modules.get("IPython")
    shell = ipython.get_ipython() if ipython is not None else None  # type: ignore[attr-defined]
    return shell is not None and type(shell).__name__ == "ZMQInteractiveShell"


def resolve(progress: Any) -> str | None:
    """``"bar"``, ``"lines"`` or None (nothing shown) for a ``progress`` argument of ``fit``."""
    if progress not in CHOICES or (isinstance(progress, int) and not isinstance(progress, bool)):
        raise ValueError(f"progress: expected one of {list(CHOICES)}, got {progress!r}")
    if progress == "auto":
        return "bar" if sys.stderr.isatty() or in_notebook() else None
    if progress is True or progress == "bar":
        return "bar"
    return "lines" if progress == "lines" else None


def make(kind: str | None, epochs: int, first: int = 0) -> Bar | Lines | None:
    """The display for ``kind`` (see :func:`resolve`)."""
    if kind == "bar":
        return Bar(epochs, first)
    return Lines(epochs) if kind == "lines" else None


def bar_class() -> Any:
    """tqdm's notebook widget in Jupyter where ipywidgets is installed (the ``notebook`` extra),
    its text bar everywhere else. Not ``tqdm.auto``: without ipywidgets it warns "IProgress not
    found" before falling back to the same text bar."""
    if in_notebook() and importlib.util.find_spec("ipywidgets") is not None:
        from tqdm.notebook import tqdm as notebook_tqdm

        return notebook_tqdm
    from tqdm.std import tqdm

    return tqdm


class Bar:
    """A tqdm bar over epochs with the latest logs and samples per second (redrawn at most 10x/s,
    and once more when it closes, so that it ends on the last epoch's numbers); a notebook widget
    in Jupyter, text elsewhere."""

    def __init__(self, epochs: int, first: int = 0) -> None:
        self.bar = bar_class()(total=epochs, initial=first, unit="epoch", file=sys.stderr, dynamic_ncols=True)
        self.last, self.done = 0.0, first
        self.latest: tuple[dict[str, float], float] | None = None  # the last epoch's numbers, drawn or not

    def update(self, epoch: int, logs: dict[str, float], samples_per_s: float) -> None:
        now, self.done, self.latest = time.perf_counter(), epoch + 1, (logs, samples_per_s)
        if now - self.last > 0.1:
            self.draw()
            self.last = now

    def draw(self) -> None:
        if self.latest is not None:
            logs, samples_per_s = self.latest
            shown = {k: f"{v:.4g}" for k, v in logs.items()}
            self.bar.set_postfix(shown, samples_s=f"{samples_per_s:.3g}", refresh=False)
        self.bar.n = self.done
        self.bar.refresh()

    def close(self) -> None:
        self.draw()
        self.bar.close()


class Lines:
    """One plain line per epoch on stderr: epoch, every logged value, seconds the epoch took."""

    def __init__(self, epochs: int) -> None:
        self.epochs, self.last = epochs, time.perf_counter()

    def update(self, epoch: int, logs: dict[str, float], samples_per_s: float) -> None:
        now = time.perf_counter()
        values = "  ".join(f"{k} {v:.6g}" for k, v in logs.items())
        print(f"epoch {epoch + 1}/{self.epochs}  {values}  {now - self.last:.3g} s", file=sys.stderr, flush=True)
        self.last = now

    def close(self) -> None:
        return None
