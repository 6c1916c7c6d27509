"""The README's test command on a machine with only the test extras: every optional library the
tests can use (torch, JAX, scikit-learn, SciPy, mpi4py, matplotlib, pandas, CuPy) made unimportable,
collection of `pytest tests --doctest-modules portnn` reports skips with reasons, never an error."""

import pathlib
import subprocess
import sys

ROOT = pathlib.Path(__file__).resolve().parents[1]

WITHOUT_EXTRAS = """
import importlib.abc, sys
OPTIONAL = {"torch", "jax", "jaxlib", "sklearn", "scipy", "mpi4py", "matplotlib", "pandas", "cupy"}

class Absent(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name.partition(".")[0] in OPTIONAL:
            raise ModuleNotFoundError(f"No module named {name!r}", name=name)
        return None

sys.meta_path.insert(0, Absent())
"""


def collect_without_extras():
    code = (
        WITHOUT_EXTRAS
        + "import pytest\n"
        + "sys.exit(pytest.main(['--collect-only', '-q', '-p', 'no:cacheprovider', 'tests', '--doctest-modules', 'portnn']))"
    )
    return subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=600)


def test_collection_without_optional_libraries_has_no_errors():
    done = collect_without_extras()
    out = done.stdout + done.stderr
    assert done.returncode == 0, out[-3000:]
    lines = out.strip().splitlines()
    assert not [line for line in lines if line.startswith("ERROR")] and "error" not in lines[-1], out[-3000:]
    assert "doctests of portnn/sklearn need sklearn, not installed" in out
