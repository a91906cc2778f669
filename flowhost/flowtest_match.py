"""Subset matching of what a flow test expects against what arrived, with a reason a person can read."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import orjson

EXCERPT_CHARS = 300
"""How much of an arrived payload a failure line shows."""


def mismatch(expected: Any, actual: Any, path: str = "payload") -> str | None:
    """None when ``actual`` matches ``expected``; else where and how it differs.

    Objects match when every expected key is there and matches (other keys are ignored), at any depth; lists
    match item by item and must have the same length; numbers compare by value (``2 == 2.0``); ``true`` is not
    ``1``; everything else compares equal or not.
    """
    if isinstance(expected, Mapping):
        if not isinstance(actual, Mapping):
            return f"{path}: expected an object, got {excerpt(actual)}"
        for key, value in expected.items():
            if key not in actual:
                return f"{path}.{key}: missing (keys: {', '.join(map(str, actual)) or 'none'})"
            found = mismatch(value, actual[key], f"{path}.{key}")
            if found:
                return found
        return None
    if isinstance(expected, list | tuple):
        if not isinstance(actual, list | tuple):
            return f"{path}: expected a list, got {excerpt(actual)}"
        if len(expected) != len(actual):
            return f"{path}: expected {len(expected)} items, got {len(actual)}: {excerpt(actual)}"
        for index, (want, got) in enumerate(zip(expected, actual, strict=True)):
            found = mismatch(want, got, f"{path}[{index}]")
            if found:
                return found
        return None
    if _is_number(expected) and _is_number(actual):
        return None if expected == actual else f"{path}: expected {excerpt(expected)}, got {excerpt(actual)}"
    if type(expected) is not type(actual) and not (isinstance(expected, str) and isinstance(actual, str)):
        return f"{path}: expected {excerpt(expected)}, got {excerpt(actual)}"
    return None if expected == actual else f"{path}: expected {excerpt(expected)}, got {excerpt(actual)}"


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def excerpt(value: Any) -> str:
    """``value`` as compact JSON, cut to :data:`EXCERPT_CHARS` characters."""
    try:
        text = orjson.dumps(value, default=repr).decode()
    except TypeError:
        text = repr(value)
    return text if len(text) <= EXCERPT_CHARS else text[: EXCERPT_CHARS - 3] + "..."
