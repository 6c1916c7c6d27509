"""What a checkpoint file holds, checked against what its architecture needs before anything is
built: the file may come from anyone (a checksum proves no origin). Every refusal is a
``ValueError`` naming the file and what is wrong in it; nothing is allocated beyond the file's
tensors and a fixed allowance. The bytes were checked by :mod:`portnn.io` already."""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..io.jsonsafe import loads
from ..nn.layers import Layer, layer_from_config

OPTIMIZER = "optimizer/"  # optimizer state tensors are named optimizer/<parameter>/<state name>
MAX_LAYERS = 10_000
MAX_ARCHITECTURE = 4_000_000  # characters of the architecture's JSON
MIN_ALLOWANCE = 65_536  # an integer setting may exceed the values the file holds up to this
DTYPES = ("float32", "float64")


@dataclass
class Plan:
    """The layers a file describes (constructed, no arrays yet) and the shapes of their arrays."""

    layers: list[Layer]
    params: list[dict[str, tuple[int, ...]]]
    buffers: list[dict[str, tuple[int, ...]]]

    def shapes(self) -> tuple[dict[str, tuple[int, ...]], dict[str, tuple[int, ...]]]:
        """(parameter shapes, buffer shapes), keyed like ``state_dict``."""
        named = [
            {f"{i}.{k}": s for i, d in enumerate(group) for k, s in d.items()} for group in (self.params, self.buffers)
        ]
        return named[0], named[1]


def plan(path: str, tensors: dict[str, np.ndarray], meta: dict[str, str]) -> Plan:
    """The layers ``meta`` describes, checked against ``tensors`` (names, shapes, dtypes, finite
    values, optimizer state) before any of their arrays exists."""
    if meta.get("dtype", "float32") not in DTYPES:
        raise ValueError(f"load: {path!r} has dtype {short(meta.get('dtype'))}, expected one of {DTYPES}")
    values = sum(v.size for k, v in tensors.items() if not k.startswith(OPTIMIZER))
    items = architecture(path, meta, limit=max(values, MIN_ALLOWANCE))
    layers = [_construct(path, i, name, config) for i, (name, config) in enumerate(items)]
    size = None
    probe = ShapeProbe(path, values)
    params, buffers = [], []
    for i, layer in enumerate(layers):
        try:
            size = layer.output_size(size)
            params.append({k: tuple(s) for k, s in layer.param_shapes(probe).items()})
            buffers.append({k: tuple(v.shape) for k, v in layer.init_buffers().items()})
        except Exception as exc:  # a layer's code run on the file's settings: what it raises is the file's fault
            raise ValueError(
                f"load: {path!r}: layer {i} ({type(layer).__name__}) does not fit: {reason(exc)}"
            ) from None
    result = Plan(layers, params, buffers)
    check_tensors(path, tensors, *result.shapes())
    return result


def architecture(path: str, meta: dict[str, str], limit: int) -> list[tuple[str, dict[str, Any]]]:
    """(class name, settings) of each layer, bounded: at most :data:`MAX_LAYERS`, every integer
    setting at most ``limit`` (no layer needs more than the values the file holds)."""
    if "architecture" not in meta:
        raise ValueError(f"load: {path!r} has no architecture")
    items = loads(meta["architecture"], "architecture", path, MAX_ARCHITECTURE)
    if not isinstance(items, list) or not 0 < len(items) <= MAX_LAYERS:
        shown = f"{len(items)} layers" if isinstance(items, list) else f"a JSON {type(items).__name__}"
        raise ValueError(f"load: {path!r} has a corrupt architecture ({shown}, expected a list of 1 to {MAX_LAYERS})")
    out = []
    for i, item in enumerate(items):
        ok = isinstance(item, dict) and set(item) == {"class", "config"} and isinstance(item["config"], dict)
        if not ok or not isinstance(item["class"], str) or not all(k.isidentifier() for k in item["config"]):
            raise ValueError(f"load: {path!r} has a corrupt architecture (layer {i}: {short(item)})")
        big = _largest_int(item["config"])
        if big > limit:
            raise ValueError(
                f"load: {path!r}: layer {i} ({item['class'][:60]}) has a setting of {big}, more than the "
                f"{limit} values its tensors could need"
            )
        out.append((item["class"], item["config"]))
    return out


def _construct(path: str, i: int, name: str, config: dict[str, Any]) -> Layer:
    try:
        return layer_from_config(name, config)
    except Exception as exc:  # whatever the file's settings make a constructor raise is the file's fault
        raise ValueError(f"load: {path!r}: layer {i} ({name[:60]!r}) cannot be built: {reason(exc)}") from None


def check_tensors(
    path: str, tensors: dict[str, np.ndarray], params: dict[str, tuple[int, ...]], buffers: dict[str, tuple[int, ...]]
) -> None:
    """The file's tensors are exactly ``params`` and ``buffers`` (with these shapes), finite, plus
    optimizer state shaped like the parameters it belongs to."""
    expected = {**params, **buffers}
    found = {k for k in tensors if not k.startswith(OPTIMIZER)}
    missing, unexpected = sorted(set(expected) - found), sorted(found - set(expected))
    if missing or unexpected:
        raise ValueError(
            f"load: {path!r} does not hold what its architecture needs: state: missing keys {missing[:8]}, "
            f"unexpected keys {[k[:60] for k in unexpected[:8]]}"
        )
    for key, value in tensors.items():
        if key.startswith(OPTIMIZER):
            parts = key.split("/")
            if len(parts) != 3 or parts[1] not in params or not parts[2].isidentifier():
                raise ValueError(f"load: {path!r} holds {key[:80]!r}, which is no parameter's optimizer state")
            shape, where = params[parts[1]], f"optimizer state[{parts[1]!r}][{parts[2]!r}]"
        else:
            shape, where = expected[key], f"state[{key!r}]"
        if value.shape != shape:
            raise ValueError(f"load: {path!r}: {where}: expected shape {shape}, got {value.shape}")
        if not np.isfinite(value).all():
            raise ValueError(f"load: {path!r}: {where}: contains {'NaN' if np.isnan(value).any() else 'inf'}")


# Where each numpy.random.Generator method takes ``size`` when it is passed by position.
_SIZE_AT = {"random": 0, "standard_normal": 0, "standard_exponential": 0, "standard_cauchy": 0}
_SIZE_AT.update(dict.fromkeys(("exponential", "poisson", "standard_gamma", "standard_t", "chisquare"), 1))
_SIZE_AT.update(dict.fromkeys(("rayleigh", "weibull", "choice", "geometric", "power", "pareto"), 1))
_SIZE_AT.update(dict.fromkeys(("uniform", "normal", "integers", "laplace", "beta", "gamma", "binomial"), 2))
_SIZE_AT.update(dict.fromkeys(("lognormal", "logistic", "gumbel", "vonmises", "wald", "f"), 2))


class ShapeProbe:
    """Stands in for the generator a layer's ``init_params`` draws from (see
    :meth:`portnn.nn.layers.Layer.param_shapes`): every ``numpy.random.Generator`` method that
    draws an array hands out zeros of the asked shape, and refuses to hand out more values in all
    than the file holds, before allocating them.

    >>> ShapeProbe("m.safetensors", 10).normal(0.0, 1.0, size=(2, 3)).shape
    (2, 3)
    >>> ShapeProbe("m.safetensors", 10).uniform(-1.0, 1.0, (10**6, 10**6))
    Traceback (most recent call last):
    ...
    ValueError: the architecture needs an array of shape (1000000, 1000000), more than the 10 values in 'm.safetensors'
    """

    def __init__(self, path: str, values: int) -> None:
        self.path, self.left = path, values

    def __getattr__(self, name: str) -> Callable[..., np.ndarray]:
        if name not in _SIZE_AT:
            raise AttributeError(
                f"{name!r}: loading checks a layer's weights through a stand-in generator that draws arrays only; "
                "define the layer's param_shapes"
            )
        at = _SIZE_AT[name]

        def draw(*args: Any, size: Any = None, **kwargs: Any) -> np.ndarray:
            return self._zeros(args[at] if size is None and len(args) > at else size)

        return draw

    def _zeros(self, size: Any) -> np.ndarray:
        shape = tuple(int(n) for n in size) if isinstance(size, (tuple, list)) else () if size is None else (int(size),)
        if math.prod(shape) > self.left:
            raise ValueError(
                f"the architecture needs an array of shape {shape}, more than the {self.left} values in {self.path!r}"
            )
        self.left -= math.prod(shape)
        return np.zeros(shape)  # writeable: a layer may scale its draw in place


def _largest_int(value: Any) -> int:
    """The largest integer magnitude anywhere in ``value`` (JSON, depth already bounded)."""
    if isinstance(value, bool):
        return 0
    if isinstance(value, int):
        return abs(value)
    children = value.values() if isinstance(value, dict) else value if isinstance(value, list) else ()
    return max((_largest_int(child) for child in children), default=0)


def reason(exc: BaseException) -> str:
    """What ``exc`` says, cut short: it may quote a value of any size from the file."""
    text = str(exc)
    return text if len(text) <= 300 else f"{text[:297]}..."


def short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 80 else f"{text[:77]}..."
