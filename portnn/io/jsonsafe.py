"""JSON from a file that may come from anyone: bounded in length, nesting depth and integer size,
every failure a ``ValueError`` naming the file and what in it is wrong."""

from __future__ import annotations

import json
from typing import Any

MAX_DEPTH = 32  # nesting of lists and objects (portnn writes at most 5)
MAX_INT_DIGITS = 40  # Python's own limit is 4300, and parsing long integers costs quadratic time


def _unique(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out = dict(pairs)
    if len(out) != len(pairs):
        seen: set[str] = set()
        twice = next(k for k, _ in pairs if k in seen or seen.add(k))  # type: ignore[func-returns-value]
        raise ValueError(f"the name {twice[:60]!r} appears twice in one object")
    return out


def _int(text: str) -> int:
    if len(text.lstrip("-")) > MAX_INT_DIGITS:
        raise ValueError(f"an integer of {len(text)} digits (at most {MAX_INT_DIGITS} allowed)")
    return int(text)


def loads(text: str | bytes | memoryview, what: str, path: str, max_chars: int) -> Any:
    """``text`` parsed as JSON, the ``what`` of the file at ``path``, refused with a ``ValueError``
    naming both when it is longer than ``max_chars``, not JSON, nested deeper than
    :data:`MAX_DEPTH`, names a key twice in one object, or holds an integer longer than
    :data:`MAX_INT_DIGITS` digits.

    >>> loads('{"a": [1, 2]}', "settings", "m.safetensors", 100)
    {'a': [1, 2]}
    >>> loads("[" * 100 + "]" * 100, "settings", "m.safetensors", 1000)
    Traceback (most recent call last):
    ...
    ValueError: load: 'm.safetensors' has a corrupt settings (nested deeper than 32 levels)
    """
    if len(text) > max_chars:
        raise ValueError(f"load: {path!r} has a corrupt {what} ({len(text)} characters, at most {max_chars} allowed)")
    try:
        if not isinstance(text, str):
            text = str(text, "utf-8")
        value = json.loads(text, parse_int=_int, object_pairs_hook=_unique)
    except RecursionError:
        raise ValueError(f"load: {path!r} has a corrupt {what} (nested deeper than {MAX_DEPTH} levels)") from None
    except ValueError as exc:  # JSONDecodeError, UnicodeDecodeError, _int's and _unique's refusals
        raise ValueError(f"load: {path!r} has a corrupt {what} (not JSON: {exc})") from None
    if depth(value) > MAX_DEPTH:
        raise ValueError(f"load: {path!r} has a corrupt {what} (nested deeper than {MAX_DEPTH} levels)")
    return value


def depth(value: Any) -> int:
    """How deeply lists and dicts nest in ``value`` (0 for a number or string), without recursion.

    >>> depth({"a": [1, [2]]})
    3
    """
    deepest, stack = 0, [(value, 1)]
    while stack:
        item, level = stack.pop()
        children = item.values() if isinstance(item, dict) else item if isinstance(item, list) else None
        if children is not None:
            deepest = max(deepest, level)
            stack.extend((child, level + 1) for child in children)
    return deepest
