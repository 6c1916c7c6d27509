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


def _warm_up(runner: Runner, trace: bool) -> int | None:
    """One untimed run; with ``trace`` it measures the peak Python-heap allocation by tracemalloc
    (which sees NumPy's arrays). tracemalloc slows allocation, so it never runs inside a timed run."""
    runner.reset()
    if not trace:
        runner.sync(runner.run())
        return None
    tracemalloc.start()
    try:
        runner.sync(runner.run())
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def measure_interleaved(
    runners: list[Runner], repeats: int, trace: list[bool], backends: list[Any]
) -> list[tuple[dict[str, Any], Any, int | None, int | None]]:
    """Time several runners, one warm-up each, then ``repeats`` rounds taking each in turn.

    Returns per runner ``(timing, last result, peak traced host bytes, peak device bytes)``;
    ``timing`` holds the median, min, max and all samples in seconds, and the untimed warm-up run's
    seconds (traced, so slower than a timed run; on GPUs it includes compiling and autotuning).
    """
    peaks, warm_ups = [], []
    for runner, traced, bk in zip(runners, trace, backends):
        if bk is not None:
            bk.reset_peak_memory()
        start = time.perf_counter()
        host = _warm_up(runner, traced)
        warm_ups.append(time.perf_counter() - start)  # compiling, autotuning, first allocations
        peaks.append((host, bk.peak_memory_bytes() if bk is not None else None))
    samples: list[list[float]] = [[] for _ in runners]
    results: list[Any] = [None] * len(runners)
    for _ in range(repeats):
        for i, runner in enumerate(runners):
            runner.reset()
            start = time.perf_counter()
            results[i] = runner.run()
            runner.sync(results[i])
            samples[i].append(time.perf_counter() - start)
    return [
        (
            {"median": statistics.median(s), "min": min(s), "max": max(s), "samples": s, "warm_up": warm_up},
            result,
            host,
            device,
        )
        for s, result, (host, device), warm_up in zip(samples, results, peaks, warm_ups)
    ]


def final_result(runner: Runner) -> Any:
    """One more run from the starting weights; its result (the final loss), synchronised."""
    runner.reset()
    result = runner.run()
    runner.sync(result)
    return result
