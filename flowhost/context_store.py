"""Shared state for nodes: a node's own, its flow's and everyone's, kept in the data directory.

```
<data-dir>/context/
  global.json                      the global scope
  flows/<flow>.json                a flow's scope
  nodes/<flow>/<node>.json         a node's own scope
```

Each scope is one JSON object, read when first used and written whole, atomically and with mode 0600, at most
once every ``flush_interval`` seconds of the runtime's clock after a change, and at stop: a busy node changes its
state per message without a disk write per message (what changed in the last interval is lost if the process
is killed). Each scope is bounded in bytes (its JSON size): a ``set`` past the bound is refused, naming the scope.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from pathlib import Path
from typing import Any

import orjson

from .clock import Clock
from .data_files import write_private_file
from .message import freeze
from .permissions import make_private_directory

__all__ = ["ContextError", "ContextFull", "ContextScope", "ContextStore"]

log = logging.getLogger(__name__)

SCOPES = ("node", "flow", "global")
DEFAULT_MAX_BYTES = 1_000_000
DEFAULT_FLUSH_INTERVAL = 1.0


class ContextError(RuntimeError):
    """A scope's file cannot be read or written; the message names the file and what to do."""


class ContextFull(ValueError):
    """A ``set`` that would take a scope past its size bound."""


class ContextScope:
    """One scope's keys and JSON values. Values read back are frozen (dicts read-only, lists as tuples)."""

    def __init__(self, store: ContextStore, name: str, path: Path, values: dict[str, Any]) -> None:
        self._store, self.name, self.path = store, name, path
        self._values = {key: freeze(value) for key, value in values.items()}
        self._sizes = {key: _size(key, value) for key, value in values.items()}
        self._total = sum(self._sizes.values())

    def get(self, key: str, default: Any = None) -> Any:
        return self._values.get(key, default)

    def keys(self) -> list[str]:
        return list(self._values)

    def set(self, key: str, value: Any) -> None:
        """Keep ``value`` (JSON: objects, lists, text, numbers, booleans, null) under ``key``."""
        if not isinstance(key, str) or not key:
            raise ValueError(f"{self.name}: a key is non-empty text, got {key!r}")
        try:
            size = _size(key, value)
        except TypeError as exc:
            raise ValueError(f"{self.name}: {key!r} must be a JSON value: {exc}") from None
        total = self._total - self._sizes.get(key, 0) + size
        if total > self._store.max_bytes:
            raise ContextFull(
                f"{self.name} would hold {total} bytes, over its bound of {self._store.max_bytes}: "
                f"delete keys it no longer needs (setting {key!r} was refused)"
            )
        self._values[key], self._sizes[key], self._total = freeze(value), size, total
        self._store.changed(self)

    def delete(self, key: str) -> bool:
        """Forget ``key``; False when it was not there."""
        if key not in self._values:
            return False
        del self._values[key]
        self._total -= self._sizes.pop(key)
        self._store.changed(self)
        return True

    def as_json(self) -> dict[str, Any]:
        return dict(self._values)

    def encoded(self) -> bytes:
        return orjson.dumps(self._values)


def _size(key: str, value: Any) -> int:
    return len(orjson.dumps({key: value}))


class ContextStore:
    """Every scope of one data directory; the runtime owns one (``Runtime.context``)."""

    def __init__(
        self,
        root: Path,
        clock: Clock,
        *,
        max_bytes: int = DEFAULT_MAX_BYTES,
        flush_interval: float = DEFAULT_FLUSH_INTERVAL,
    ) -> None:
        self.root, self.clock = root, clock
        self.max_bytes, self.flush_interval = max_bytes, flush_interval
        self._scopes: dict[Path, ContextScope] = {}
        self._dirty: dict[Path, ContextScope] = {}
        self._flusher: asyncio.Task | None = None
        self._writing = False

    def scope(self, scope: str, flow_id: str | None = None, node_id: str | None = None) -> ContextScope:
        """The scope ``node`` (of ``flow_id``/``node_id``), ``flow`` (of ``flow_id``) or ``global``."""
        if scope == "global":
            return self._open(self.root / "global.json", "the global context")
        if scope == "flow" and flow_id:
            return self._open(self.root / "flows" / f"{flow_id}.json", f"the context of flow {flow_id}")
        if scope == "node" and flow_id and node_id:
            path = self.root / "nodes" / flow_id / f"{node_id}.json"
            return self._open(path, f"the context of node {flow_id}/{node_id}")
        raise ValueError(f"context scope must be one of {', '.join(SCOPES)}, got {scope!r}")

    def _open(self, path: Path, name: str) -> ContextScope:
        scope = self._scopes.get(path)
        if scope is None:
            scope = self._scopes[path] = ContextScope(self, name, path, self._read(path, name))
        return scope

    def _read(self, path: Path, name: str) -> dict[str, Any]:
        try:
            size = path.stat().st_size
        except FileNotFoundError:
            return {}
        problem = None
        if size > 2 * self.max_bytes:  # bounded reading: a file someone grew by hand is not loaded blindly
            problem = f"{size} bytes, over twice the bound of {self.max_bytes}"
        else:
            try:
                values = orjson.loads(path.read_bytes())
            except (OSError, orjson.JSONDecodeError) as exc:
                problem = str(exc)
            else:
                if isinstance(values, dict):
                    return values
                problem = "not a JSON object"
        raise ContextError(f"{path} ({name}) cannot be read: {problem}; move it away to start this scope empty")

    def changed(self, scope: ContextScope) -> None:
        self._dirty[scope.path] = scope
        if self._flusher is None or self._flusher.done():
            deadline = self.clock.now() + self.flush_interval  # from the change, not from when the task runs
            self._flusher = asyncio.get_running_loop().create_task(self._flush_at(deadline), name="context:flush")

    async def _flush_at(self, deadline: float) -> None:
        await self.clock.sleep_until(deadline)
        await self.flush()

    async def flush(self) -> None:
        """Write every changed scope now."""
        dirty, self._dirty = self._dirty, {}
        writes = [(path, scope.encoded()) for path, scope in dirty.items()]  # a snapshot taken on the loop
        if writes:
            self._writing = True
            try:
                await asyncio.to_thread(self._write_all, writes)
            finally:
                self._writing = False

    def _write_all(self, writes: list[tuple[Path, bytes]]) -> None:
        for path, data in writes:
            try:
                make_private_directory(path.parent)
                write_private_file(path, data)
            except OSError as exc:
                log.error("context %s cannot be written: %s", path, exc)

    async def close(self) -> None:
        """Write what changed and stop the pending write (the runtime calls it at stop)."""
        flusher = self._flusher
        if flusher is not None and not flusher.done():
            if not self._writing:  # still waiting: cancel the wait; a write under way is let finish
                flusher.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await flusher
        await self.flush()
