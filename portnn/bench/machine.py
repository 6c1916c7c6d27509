"""A description of the machine a benchmark ran on (CPU, cores, GPU, library versions)."""

from __future__ import annotations

import os
import platform
import subprocess
from typing import Any

from .._xp import library_versions


def _cpu_model() -> str:
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def _gpus() -> list[dict[str, str]]:
    try:
        out = subprocess.run(
            ["nvidia-smi", "--query-gpu=name,driver_version,memory.total", "--format=csv,noheader"],
            capture_output=True,
            text=True,
            timeout=20,
            check=True,
        ).stdout
    except (OSError, subprocess.SubprocessError):
        return []
    gpus = []
    for line in out.strip().splitlines():
        name, driver, memory = (part.strip() for part in line.split(","))
        gpus.append({"name": name, "driver": driver, "memory": memory})
    return gpus


def describe_machine() -> dict[str, Any]:
    """CPU model, logical cores, memory, OS, GPUs (via nvidia-smi) and library versions."""
    try:
        memory_gb = round(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30, 1)
    except (ValueError, OSError, AttributeError):
        memory_gb = None
    usable_cores: int | None
    try:
        usable_cores = len(os.sched_getaffinity(0))
    except AttributeError:
        usable_cores = os.cpu_count()
    versions = library_versions()
    for extra in ("sklearn", "matplotlib"):
        try:
            versions[extra] = __import__(extra).__version__
        except ImportError:
            versions[extra] = "not installed"
    return {
        "cpu": _cpu_model(),
        "cores": usable_cores,
        "memory_gb": memory_gb,
        "os": f"{platform.system()} {platform.release()}",
        "python": platform.python_version(),
        "gpus": _gpus(),
        "versions": versions,
    }
