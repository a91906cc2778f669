"""The kind of a JSON value, as messages and the switch node name it: ``null``, ``boolean``, ``number``..."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

__all__ = ["json_kind", "with_article"]


def json_kind(value: Any) -> str:
    """``null``, ``boolean``, ``number``, ``string``, ``object``, ``array`` or ``bytes`` (a frozen payload's tuples
    are arrays); for what is none of these, its Python type name."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int | float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, Mapping):
        return "object"
    if isinstance(value, bytes | bytearray):
        return "bytes"
    return "array" if isinstance(value, Sequence) else type(value).__name__


def with_article(kind: str) -> str:
    """``an object``, ``a number``; ``null`` and ``bytes`` as they are (as an error message says what it got)."""
    if kind in ("null", "bytes"):
        return kind
    return f"an {kind}" if kind[0] in "aeiou" else f"a {kind}"
