"""Honest timing: warm-up first, device synchronised inside the timed region, several repeats."""

from __future__ import annotations

import statistics
import time
import tracemalloc
from collections.abc import Callable
from typing import Any, NamedTuple


def _nothing() -> None:
    return None


class Runner(NamedTuple):
    """What is timed: ``run()`` trains, ``sync(result)`` waits for the device, ``reset()`` restores
    the starting weights outside the clock (so every implementation times training alone)."""

    run: Callable[[], Any]
    sync: Callable[[Any], None]
    reset: Callable[[], None] = _nothing


def measure(runner: Runner, repeats: int, warmup: int = 1) -> dict[str, Any]:
    """Time ``runner``: median, min, max and all samples in seconds."""
    for _ in range(warmup):
        runner.reset()
        runner.sync(runner.run())
    samples = []
    for _ in range(repeats):
        runner.reset()
        start = time.perf_counter()
        runner.sync(runner.run())
        samples.append(time.perf_counter() - start)
    return {"median": statistics.median(samples), "min": min(samples), "max": max(samples), "samples": samples}


def final_result(runner: Runner) -> Any:
    """One more run from the starting weights; its result (the final loss), synchronised."""
    runner.reset()
    result = runner.run()
    runner.sync(result)
    return result


def peak_host_bytes(runner: Runner) -> int:
    """Peak Python-heap allocation (NumPy arrays included) during one run, by tracemalloc.

    Done in a separate run: tracemalloc slows allocation, so it never shares a timed run.
    """
    runner.reset()
    tracemalloc.start()
    try:
        runner.sync(runner.run())
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
