"""The README's code blocks, by the heading they sit under (the tests run them)."""

import pathlib
import re

README = pathlib.Path(__file__).resolve().parents[1] / "README.md"


def python_block(heading: str) -> str:
    """The first ```python block after ``heading`` (a "## ..." line) in the README."""
    text = README.read_text()
    start = text.index(f"\n{heading}\n")
    match = re.search(r"```python\n(.*?)```", text[start:], re.S)
    if match is None:
        raise LookupError(f"no python block under {heading!r} in {README}")
    return match.group(1)
