"""Outside ``portnn/_xp/`` no code tests a library's name or a spec's text: it asks a backend's
capability (``arrays_are_numpy``, ``on_gpu``, ``writeable``, ``float64``, ``compiles``,
``torch_device``) or ``_xp``'s functions (``is_array``, ``is_non_numpy_array``, ``spec_on_gpu``,
``spec_arrays_are_numpy``, ``spec_for_rank``). An AST scan of ``portnn/`` proves it, and the scan
is shown to find each kind of test it looks for."""

import ast
import pathlib

import pytest

import portnn

ROOT = pathlib.Path(portnn.__file__).parent
LIBRARIES = {"numpy", "array_api_strict", "torch", "jax", "jaxlib", "cupy"}
DEVICES = {"cuda", "gpu", "cpu", "mps"}
STRING_TESTS = {"startswith", "endswith", "removeprefix", "removesuffix"}
SPEC_SPLITS = {"partition", "rpartition", "split", "rsplit"}


def _names_a_library(node: ast.AST) -> bool:
    """A string constant naming a library, a spec (``"torch:cuda"``) or a device (``":gpu"``), or
    a tuple/list/set holding one."""
    if isinstance(node, (ast.Tuple, ast.List, ast.Set)):
        return any(_names_a_library(e) for e in node.elts)
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        head = node.value.strip(":").partition(":")[0]
        return head in LIBRARIES or head in DEVICES
    return False


def _is_library_attribute(node: ast.AST) -> bool:
    return isinstance(node, ast.Attribute) and node.attr == "library"


def _is_spec(node: ast.AST) -> bool:
    """An expression that, by its name, holds a spec (``spec``, ``backend``, ``args.device``)."""
    text = ast.unparse(node).lower()
    return any(word in text for word in ("spec", "backend", "device"))


def _is_colon(node: ast.AST) -> bool:
    return isinstance(node, ast.Constant) and node.value == ":"


def library_tests(source: str) -> list[str]:
    """Each place in ``source`` that tests a library name or a spec's text, as ``line: code``."""
    found = []
    for node in ast.walk(ast.parse(source)):
        hit = False
        if isinstance(node, ast.Compare):
            operands = [node.left, *node.comparators]
            hit = any(_names_a_library(o) or _is_library_attribute(o) for o in operands)
        elif isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
            method, args = node.func.attr, node.args
            hit = (method in STRING_TESTS and any(_names_a_library(a) for a in args)) or (
                method in SPEC_SPLITS and _is_spec(node.func.value) and any(_is_colon(a) for a in args)
            )
        elif isinstance(node, (ast.Name, ast.Attribute, ast.alias)):
            name = {ast.Name: "id", ast.Attribute: "attr", ast.alias: "name"}[type(node)]
            hit = getattr(node, name) == "library_of"
        if hit:
            found.append(f"{node.lineno}: {ast.unparse(node)}" if hasattr(node, "lineno") else ast.unparse(node))
    return found


@pytest.mark.parametrize(
    "code",
    [
        'library_of(a) not in (None, "numpy")',
        "from portnn._xp import library_of",
        'spec.startswith("torch:")',
        'spec.endswith(("cuda", "gpu"))',
        'spec.startswith("cupy")',
        '":gpu" in spec',
        'out.library == "numpy"',
        "bk.library != other.library",
        'e["backend"] == "numpy"',
        'device = spec.partition(":")[2]',
        "library = backend.partition(':')[0]",
        'name in {"jax", "jaxlib"}',
    ],
)
def test_the_scan_finds_each_kind_of_library_test(code):
    assert library_tests(code), code


@pytest.mark.parametrize(
    "code",
    [
        "bk.on_gpu and not bk.arrays_are_numpy",
        'get_backend("numpy")',
        'def f(backend="numpy"): pass',
        'ref == "torch-eager"',
        'name.startswith("gemm")',
        'f"backend {bk.spec}"',
        "transports[backend.spec]",
        'line.split(":", 1)',
    ],
)
def test_the_scan_leaves_capabilities_and_naming_alone(code):
    assert not library_tests(code), code


def test_no_library_name_or_spec_text_is_tested_outside_xp():
    found = []
    for path in sorted(ROOT.rglob("*.py")):
        relative = path.relative_to(ROOT)
        if relative.parts[0] == "_xp":
            continue
        found += [f"portnn/{relative}:{hit}" for hit in library_tests(path.read_text())]
    assert found == []
