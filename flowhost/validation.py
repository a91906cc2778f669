"""Named voluptuous validators shared by the core and plugins, each with a message a person can act on."""

from __future__ import annotations

import difflib
import re
from collections.abc import Iterable
from typing import Any

import voluptuous as vol

__all__ = [
    "closest",
    "dev_eui",
    "duration",
    "hex_string",
    "identifier",
    "parse_duration",
    "port_number",
]

_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)\s*$")
_UNIT_SECONDS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0}
_DEV_EUI = re.compile(r"^[0-9A-Fa-f]{16}$")
_IDENTIFIER = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$")


def parse_duration(value: Any) -> float:
    """Seconds from ``500ms``, ``30s``, ``10m``, ``72h`` or ``1d``; raises ValueError otherwise."""
    if isinstance(value, bool) or not isinstance(value, str):
        raise ValueError(f"expected a duration such as 500ms, 30s, 10m, 72h or 1d, got {value!r}")
    match = _DURATION.match(value)
    if not match:
        raise ValueError(f"'{value}' is not a duration; use a number and a unit: 500ms, 30s, 10m, 72h or 1d")
    return float(match.group(1)) * _UNIT_SECONDS[match.group(2)]


def duration(value: Any) -> float:
    """Voluptuous validator: a duration string -> seconds (float)."""
    try:
        return parse_duration(value)
    except ValueError as exc:
        raise vol.Invalid(str(exc)) from None


def duration_between(minimum: float, maximum: float) -> vol.All:
    def in_range(seconds: float) -> float:
        if not minimum <= seconds <= maximum:
            raise vol.Invalid(f"must be between {minimum:g}s and {maximum:g}s")
        return seconds

    return vol.All(duration, in_range)


def dev_eui(value: Any) -> str:
    """Voluptuous validator: a DevEUI (EUI-64) -> 16 upper-case hex digits."""
    if not isinstance(value, str) or not _DEV_EUI.match(value):
        raise vol.Invalid(f"DevEUI must be 16 hexadecimal digits, got {value!r}")
    return value.upper()


def hex_string(value: Any) -> str:
    """Voluptuous validator: an even-length hexadecimal string -> lower case."""
    if not isinstance(value, str) or len(value) % 2 or not re.fullmatch(r"[0-9A-Fa-f]*", value):
        raise vol.Invalid(f"expected an even number of hexadecimal digits, got {value!r}")
    return value.lower()


def identifier(value: Any) -> str:
    """Voluptuous validator: an id for a flow, node or connection."""
    if not isinstance(value, str) or not _IDENTIFIER.match(value):
        raise vol.Invalid(
            f"id must start with a letter or digit and hold only letters, digits, '_', '.', '-', got {value!r}"
        )
    return value


def port_number(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= 65535:
        raise vol.Invalid(f"port must be 1..65535, got {value!r}")
    return value


def closest(word: str, candidates: Iterable[str]) -> str | None:
    """The candidate closest to a misspelt word, or None."""
    matches = difflib.get_close_matches(str(word), list(candidates), n=1, cutoff=0.6)
    return matches[0] if matches else None
