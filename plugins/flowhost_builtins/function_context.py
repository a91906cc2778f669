"""The ``context``, ``flow`` and ``global`` stores of ``function`` nodes, and the sandbox's copies of them.

A function node uses the runtime's shared-state store (``NodeContext.store(scope)``: node, flow and global
context in the data dir, readable in the API) when the runtime has one. Without it (an older runtime), it falls
back to :data:`STORES`, a store in memory: values live in this process only, kept across a redeploy, lost on a
restart. Both have the same small interface: ``get(key)``, ``keys()``, ``set(key, value)``, ``delete(key)``.

JavaScript cannot call Python, so a node's sandbox keeps a copy of each scope its body uses. :class:`Mirror`
sends it only what changed since its last call: a store keeps the object a key was set to (or a frozen copy of
it) until the key is set again, so a change shows as another object under the key.
"""

from __future__ import annotations

import re
from typing import Any

import orjson

__all__ = ["MAX_BYTES", "MAX_KEYS", "STORES", "ContextFull", "ContextStores", "MemoryScope", "Mirror", "used_scopes"]

MAX_KEYS = 10_000
"""Keys one in-memory scope may hold: a function node that adds a key per message must not grow without end."""
MAX_BYTES = 8 * 1024 * 1024
"""JSON bytes one in-memory scope's values may take together (each function node's sandbox holds a copy)."""
_MISSING = object()


class ContextFull(ValueError):
    """A write would take an in-memory scope past :data:`MAX_KEYS` keys or :data:`MAX_BYTES` bytes."""


class MemoryScope:
    """One store in memory: JSON values by key."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.values: dict[str, Any] = {}
        self.size = 0
        """The JSON bytes of the values."""
        self._sizes: dict[str, int] = {}

    def get(self, key: str, default: Any = None) -> Any:
        return self.values.get(key, default)

    def keys(self) -> list[str]:
        return list(self.values)

    def set(self, key: str, value: Any) -> None:
        """Keep a JSON value under ``key``. Raises :class:`ContextFull`."""
        if key not in self.values and len(self.values) >= MAX_KEYS:
            raise ContextFull(f"{self.name} context holds {MAX_KEYS} keys already; cannot add {key!r}")
        size = len(orjson.dumps(value)) + len(key)
        if self.size - self._sizes.get(key, 0) + size > MAX_BYTES:
            raise ContextFull(f"{self.name} context would exceed {MAX_BYTES} bytes of JSON with {key!r}")
        self.values[key] = value
        self.size += size - self._sizes.get(key, 0)
        self._sizes[key] = size

    def delete(self, key: str) -> bool:
        if key not in self.values:
            return False
        del self.values[key]
        self.size -= self._sizes.pop(key)
        return True


class ContextStores:
    """Every in-memory scope, made when first asked for: ``node(flow, node)``, ``flow(flow)``, ``global_()``."""

    def __init__(self) -> None:
        self._scopes: dict[tuple[str, ...], MemoryScope] = {}

    def _scope(self, key: tuple[str, ...], name: str) -> MemoryScope:
        scope = self._scopes.get(key)
        if scope is None:
            scope = self._scopes[key] = MemoryScope(name)
        return scope

    def node(self, flow_id: str, node_id: str) -> MemoryScope:
        return self._scope(("node", flow_id, node_id), "node")

    def flow(self, flow_id: str) -> MemoryScope:
        return self._scope(("flow", flow_id), "flow")

    def global_(self) -> MemoryScope:
        return self._scope(("global",), "global")


STORES = ContextStores()
"""The process's in-memory stores, for a runtime without a shared-state store (``global`` is shared by all)."""


class Mirror:
    """What a sandbox's copy of one scope holds: :meth:`changes` before a call, :meth:`apply` after it."""

    def __init__(self, scope: Any) -> None:
        self.scope = scope
        self._held: dict[str, Any] = {}
        self._fresh = True

    def reset(self) -> None:
        """The sandbox's copy is gone (a fresh context) or wrong (a refused write): send everything next time."""
        self._held, self._fresh = {}, True

    def changes(self) -> dict[str, Any] | None:
        """``{"replace", "values"}`` for the sandbox (a value None deletes), or None when nothing changed."""
        scope, held = self.scope, self._held
        current = {key: scope.get(key) for key in scope.keys()}
        replace, self._fresh, self._held = self._fresh, False, current
        if replace:
            return {"replace": True, "values": current}
        changed = {key: value for key, value in current.items() if held.get(key, _MISSING) is not value}
        for key in held.keys() - current.keys():
            changed[key] = None
        return {"replace": False, "values": changed} if changed else None

    def apply(self, writes: dict[str, Any]) -> None:
        """Write what the call set (None: deleted) to the store; the sandbox's copy has it already."""
        for key, value in writes.items():
            if value is None:
                self.scope.delete(key)
                self._held.pop(key, None)
            else:
                self.scope.set(key, value)
                self._held[key] = self.scope.get(key)


_NAMES = re.compile(r"[A-Za-z_$][\w$]*")


def used_scopes(body: str) -> tuple[str, ...]:
    """The scopes a function body can reach: ``context``, ``flow`` and ``global`` are its parameters, so it names
    them (or reaches them through ``arguments`` or a direct ``eval``). Scopes it never names are not copied."""
    names = set(_NAMES.findall(body))
    if names & {"arguments", "eval"}:
        return ("node", "flow", "global")
    return tuple(
        scope for scope, name in (("node", "context"), ("flow", "flow"), ("global", "global")) if name in names
    )
