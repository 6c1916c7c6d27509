"""Honest timing: warm-up first, device synchronised inside the timed region, several repeats."""

from __future__ import annotations

import statistics
import time
import tracemalloc
from collections.abc import Callable
from typing import Any


def measure(run: Callable[[], Any], sync: Callable[[Any], None], repeats: int, warmup: int = 1) -> dict[str, Any]:
    """Time ``run`` (whose result ``sync`` waits for): median, min, max and all samples in seconds."""
    for _ in range(warmup):
        sync(run())
    samples = []
    for _ in range(repeats):
        start = time.perf_counter()
        sync(run())
        samples.append(time.perf_counter() - start)
    return {"median": statistics.median(samples), "min": min(samples), "max": max(samples), "samples": samples}


def peak_host_bytes(run: Callable[[], Any], sync: Callable[[Any], None]) -> int:
    """Peak Python-heap allocation (NumPy arrays included) during one run, by tracemalloc.

    Done in a separate run: tracemalloc slows allocation, so it never shares a timed run.
    """
    tracemalloc.start()
    try:
        sync(run())
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
