"""The ``portnn`` command: ``demo``, ``train``, ``evaluate``, ``predict``, ``bench``, ``info``, and
the CSV/NPZ reading it trains on."""

from .main import main

__all__ = ["main"]
