"""Refusing unknown keys in user mappings, each error naming the closest known key (a typo must not be ignored)."""

from __future__ import annotations

from collections.abc import Collection, Mapping
from typing import Any

import voluptuous as vol

from flowhost.validation import closest


def unknown_keys(mapping: Mapping[Any, Any], known: Collection[str]) -> list[vol.Invalid]:
    """One error per key of ``mapping`` not in ``known``, at that key's path, with a suggestion when one is close."""
    errors = []
    for key in mapping:
        if key not in known:
            suggestion = closest(str(key), known)
            hint = f" (did you mean {suggestion!r}?)" if suggestion else ""
            errors.append(vol.Invalid(f"unknown key {key!r}{hint}", path=[key]))
    return errors
