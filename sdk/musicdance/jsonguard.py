"""Bound JSON before parsing it: nesting depth and value count, in time linear in its size.

A leaf utility (numpy and the standard library only): ``json.loads`` on deeply nested input
recurses until ``RecursionError``, and a few megabytes of ``[0,0,0,...]`` become hundreds of
megabytes of Python objects, so untrusted JSON is measured first.
"""

from __future__ import annotations

import re

import numpy as np

__all__ = ["check_json_shape"]

#: A JSON string (with its escapes): replaced by ``""`` before brackets are counted.
_STRING = re.compile(rb'"[^"\\]*(?:\\.[^"\\]*)*"', re.DOTALL)


def check_json_shape(
    text: str | bytes, *, max_depth: int = 32, max_values: int | None = None
) -> str | None:
    """The first reason ``text`` is too deep or has too many values, or None.

    Depth counts ``[`` and ``{`` outside strings; values are approximated by separators
    (commas and colons) plus one. Invalid JSON passes here and fails in the parser.
    """
    data = text.encode("utf-8", "surrogatepass") if isinstance(text, str) else bytes(text)
    bare = _STRING.sub(b'""', data)
    codes = np.frombuffer(bare, dtype=np.uint8)
    steps = np.zeros(len(codes), dtype=np.int8)
    steps[(codes == ord("[")) | (codes == ord("{"))] = 1
    steps[(codes == ord("]")) | (codes == ord("}"))] = -1
    if len(steps):
        depth = int(np.cumsum(steps, dtype=np.int64).max())
        if depth > max_depth:
            return f"nested {depth} levels deep; the limit is {max_depth}"
    if max_values is not None:
        values = int(np.count_nonzero((codes == ord(",")) | (codes == ord(":")))) + 1
        if values > max_values:
            return f"about {values} values; the limit is {max_values}"
    return None
