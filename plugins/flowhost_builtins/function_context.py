"""The ``context``, ``flow`` and ``global`` stores of ``function`` nodes: JSON values by key, in memory.

A stop-gap behind a small interface: the shared-state store of issue 17 (per node, per flow and global, kept in
the data dir, readable in the API) is being built on another branch; when it lands, :class:`ContextStores` is
what gets replaced. Until then the values live in this process only and are lost on a restart. Node and flow
scopes outlive a redeploy of their node (as Node-RED's memory store does); ``global`` is one per process.

A function node's sandbox keeps a copy of each scope it uses (JavaScript cannot call Python), brought up to date
before each call with what changed since its last one: every write gets a revision number, and a scope remembers
the revision of each key's last change.
"""

from __future__ import annotations

from typing import Any

import orjson

__all__ = ["MAX_BYTES", "MAX_KEYS", "ContextFull", "ContextStores", "Scope"]

MAX_KEYS = 10_000
"""Keys one scope may hold: a function node that adds a key per message must not grow without end."""
MAX_BYTES = 8 * 1024 * 1024
"""JSON bytes one scope's values may take together (each function node's sandbox holds a copy)."""


class ContextFull(Exception):
    """A write would give a scope more than :data:`MAX_KEYS` keys."""


class Scope:
    """One store: values by key, with the revision at which each key last changed (deleted keys too)."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.values: dict[str, Any] = {}
        self.revision = 0
        self.size = 0
        """The JSON bytes of the values."""
        self._sizes: dict[str, int] = {}
        self._changed: dict[str, int] = {}
        self._compacted = 0  # revisions up to this one may have lost their deletions: send everything

    def get(self, key: str) -> Any:
        return self.values.get(key)

    def set(self, key: str, value: Any) -> None:
        """Set ``key`` to a JSON value; ``None`` deletes it. Raises :class:`ContextFull`."""
        if value is None:
            if key not in self.values:
                return
            del self.values[key]
            self.size -= self._sizes.pop(key)
        else:
            if key not in self.values and len(self.values) >= MAX_KEYS:
                raise ContextFull(f"{self.name} context holds {MAX_KEYS} keys already; cannot add {key!r}")
            size = len(orjson.dumps(value)) + len(key)
            if self.size - self._sizes.get(key, 0) + size > MAX_BYTES:
                raise ContextFull(f"{self.name} context would exceed {MAX_BYTES} bytes of JSON with {key!r}")
            self.values[key] = value
            self.size += size - self._sizes.get(key, 0)
            self._sizes[key] = size
        self.revision += 1
        self._changed[key] = self.revision
        if len(self._changed) > 2 * MAX_KEYS:  # deleted keys pile up: forget them, copies get everything
            self._changed = {key: self._changed[key] for key in self.values}
            self._compacted = self.revision

    def changes_since(self, revision: int) -> tuple[bool, dict[str, Any]]:
        """What a copy last brought up to date at ``revision`` must apply: ``(replace, changes)``; ``replace``
        means the changes are the whole scope; a change to ``None`` is a deletion."""
        if revision < self._compacted or revision == 0:
            return True, dict(self.values)
        return False, {key: self.values.get(key) for key, changed in self._changed.items() if changed > revision}


class ContextStores:
    """Every scope, made when first asked for: ``node(flow_id, node_id)``, ``flow(flow_id)``, ``global_()``."""

    def __init__(self) -> None:
        self._scopes: dict[tuple[str, ...], Scope] = {}

    def _scope(self, key: tuple[str, ...], name: str) -> Scope:
        scope = self._scopes.get(key)
        if scope is None:
            scope = self._scopes[key] = Scope(name)
        return scope

    def node(self, flow_id: str, node_id: str) -> Scope:
        return self._scope(("node", flow_id, node_id), "node")

    def flow(self, flow_id: str) -> Scope:
        return self._scope(("flow", flow_id), "flow")

    def global_(self) -> Scope:
        return self._scope(("global",), "global")


STORES = ContextStores()
"""The process's stores (``global`` is shared by every flow)."""
