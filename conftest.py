"""Collection of the whole checkout (``pytest tests --doctest-modules portnn``, as ``ci/test.sh`` runs it):
a package whose doctests need an optional library that is not installed is skipped with a reason
instead of failing to import (the collection error a fresh checkout would otherwise show)."""

import importlib
from functools import cache
from pathlib import Path

import pytest

# package folder (relative to this file) -> (the module it imports, how to install it)
_NEEDS = {"portnn/sklearn": ("sklearn", "pip install 'portnn[sklearn]'")}
_ROOT = Path(__file__).parent


class _Absent(pytest.File):
    """A file whose doctests cannot be imported here: collecting it reports a skip with the reason."""

    reason = ""

    def collect(self):
        pytest.skip(self.reason)


@cache
def _importable(module: str) -> bool:
    try:
        importlib.import_module(module)
    except ModuleNotFoundError as exc:
        if exc.name is None or exc.name.partition(".")[0] != module:
            raise  # the library is there but broken: that error is the one to see
        return False
    return True


def _missing(path: Path) -> str | None:
    """Why the doctests of ``path`` cannot run here, or None."""
    for folder, (module, install) in _NEEDS.items():
        if (_ROOT / folder) in path.parents and not _importable(module):
            return f"doctests of {folder} need {module}, not installed ({install})"
    return None


@pytest.hookimpl(wrapper=True)
def pytest_collect_file(file_path, parent):
    collectors = yield
    reason = _missing(Path(file_path)) if collectors else None
    if reason is None:
        return collectors
    absent = _Absent.from_parent(parent, path=file_path)
    absent.reason = reason
    return [absent]
