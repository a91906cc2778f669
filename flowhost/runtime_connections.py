"""The runtime's running connections: who defines each (a flow or the API), starting, replacing and stopping
them, and telling them when the nodes that use them have started (``Connection.nodes_started``)."""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING

from .connection_runner import ConnectionRunner
from .events import RuntimeEvent
from .flowfile import ConnectionSpec, FlowSpec
from .node import Connection

if TYPE_CHECKING:
    from jinja2.sandbox import SandboxedEnvironment

    from .registry import Registry

__all__ = ["RunningConnections"]


class RunningConnections:
    """The running connections by id (``runners``) with the flow that defines each (None: the API)."""

    def __init__(
        self,
        registry: Registry,
        templates: SandboxedEnvironment,
        data_dir: Path,
        emit: Callable[[RuntimeEvent], None],
    ) -> None:
        self._registry = registry
        self._templates = templates
        self._data_dir = data_dir / "connections"
        self._emit = emit
        self.runners: dict[str, ConnectionRunner] = {}
        self._owner: dict[str, str | None] = {}
        self._holding_nodes_started = 0
        self._nodes_started_pending: set[str] = set()

    def connection(self, connection_id: str) -> Connection:
        """The running connection object (KeyError when there is none)."""
        return self.runners[connection_id].connection

    def owner(self, connection_id: str) -> str | None:
        """The id of the flow that defines a running connection; None for the API's own (or unknown) ones."""
        return self._owner.get(connection_id)

    def check_owners(self, spec: FlowSpec) -> None:
        """ValueError when the flow defines a connection that another flow or the API already defines."""
        for connection in spec.connections:
            owner = self._owner.get(connection.id, spec.id)
            if connection.id in self.runners and owner != spec.id:
                raise ValueError(f"connection '{connection.id}' is already defined by {owner or 'the API'}")

    def changed_by(self, spec: FlowSpec, previous: FlowSpec | None) -> set[str]:
        """Ids of the flow's connections that are new, set up differently, or gone since ``previous``."""
        changed = {
            connection.id
            for connection in spec.connections
            if connection.id not in self.runners or not self.runners[connection.id].spec.same_setup(connection)
        }
        if previous is not None:
            changed |= {c.id for c in previous.connections} - {c.id for c in spec.connections}
        return changed

    async def apply(self, spec: FlowSpec) -> set[str]:
        """Start or replace the flow's connections; returns the ids of those (re)started."""
        started = set()
        for connection in spec.connections:
            if await self.start_or_replace(connection, owner=spec.id):
                started.add(connection.id)
        return started

    async def start_or_replace(self, spec: ConnectionSpec, owner: str | None) -> bool:
        """Start the connection, or replace a running one set up differently; False when it kept running."""
        current = self.runners.get(spec.id)
        if current is not None and current.spec.same_setup(spec):
            current.spec = spec
            return False
        if current is not None:
            await self.stop(spec.id)
        connection_class = self._registry.connection_types[spec.connector_id]
        runner = ConnectionRunner(spec, connection_class, self._templates, self._data_dir / spec.id, self._emit)
        self.runners[spec.id] = runner
        self._owner[spec.id] = owner
        if not spec.active:
            runner.state_changed(runner.connection_class.inactive_state)
        await runner.start()  # an inactive connection still opens what it keeps locally (see ConnectionContext)
        return True

    async def stop(self, connection_id: str) -> None:
        runner = self.runners.pop(connection_id, None)
        self._owner.pop(connection_id, None)
        if runner is not None:
            await runner.stop()

    async def stop_all(self) -> None:
        for connection_id in list(self.runners):
            await self.stop(connection_id)

    async def stop_undefined(self, flows: Iterable[FlowSpec]) -> None:
        """Stop the flow-defined connections that none of ``flows`` defines any more."""
        defined = {c.id for flow in flows for c in flow.connections}
        for connection_id, owner in list(self._owner.items()):
            if owner is not None and connection_id not in defined:
                await self.stop(connection_id)

    @contextlib.contextmanager
    def holding_nodes_started(self) -> Iterator[None]:
        """Announce ``nodes_started`` to connections only when the block ends."""
        self._holding_nodes_started += 1
        try:
            yield
        finally:
            self._holding_nodes_started -= 1
            self.announce_nodes_started(set())

    def announce_nodes_started(self, connection_ids: set[str]) -> None:
        """Tell these connections (with those held back until now) that the nodes using them have started."""
        self._nodes_started_pending |= connection_ids
        if self._holding_nodes_started:
            return
        pending, self._nodes_started_pending = self._nodes_started_pending, set()
        for connection_id in sorted(pending):
            runner = self.runners.get(connection_id)
            if runner is not None:
                runner.nodes_started()
