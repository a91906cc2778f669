"""The flows and connections that flowhost runs, as the REST API and ``flowhost run`` see them.

It validates changes completely before anything changes, keeps secrets out of files and responses (secret
fields are masked as ``********``; new values are encrypted in the data directory and referenced as
``!secret NAME``), writes flows back to their YAML files keeping the user's comments, and applies the change
to the runtime, which restarts only what changed. All changes go through one lock.

``Workspace`` is the face the API and the commands use; the work is done by ``flows.Flows`` and
``connections.Connections`` over one ``state.WorkspaceState``, and by the policy of ``flowhost.secrets``.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from ..flow_yaml import DEFAULT_STYLE, YamlStyle
from ..runtime import Runtime
from ..secrets.policy import MASK
from ..store import Store
from .connections import API_CONNECTION_SCHEMA, Connections
from .errors import Conflict, Invalid, NotFound, WorkspaceError
from .flows import Flows
from .state import ApiConnection, FlowRecord, WorkspaceState

log = logging.getLogger(__name__)


class Workspace:
    def __init__(self, runtime: Runtime, store: Store) -> None:
        self._state = WorkspaceState(runtime, store)
        self._flows = Flows(self._state)
        self._connections = Connections(self._state)
        self._started = False
        self.ready = False
        """True once ``start()`` has started the connections and flows, until the process stops (``/healthz``)."""

    @property
    def runtime(self) -> Runtime:
        return self._state.runtime

    @property
    def store(self) -> Store:
        return self._state.store

    @property
    def registry(self):
        return self._state.registry

    @property
    def flows(self) -> dict[str, FlowRecord]:
        return self._state.flows

    @property
    def connections(self) -> dict[str, ApiConnection]:
        return self._state.connections

    # -- loading at start ------------------------------------------------------------------------------------
    def load_connections(self) -> list[str]:
        """Read and validate the connections stored by the API; returns the errors (``file: path: message``)."""
        return self._connections.load()

    def load_flow_files(
        self, paths: Iterable[Path], *, demo: Path | None = None, include_stored: bool = True
    ) -> list[str]:
        """Read and validate the flows to run: ``paths`` (the command line), the data directory's flows (unless
        ``include_stored`` is false), and ``demo`` when there are no others. Returns every error as text."""
        self.load_connections()
        return self._flows.load_files(paths, demo=demo, include_stored=include_stored)

    async def start(self) -> None:
        """Start the stored connections, then deploy the loaded flows (once)."""
        if self._started:
            return
        self._started = True
        for error in self.load_connections():
            log.error("%s", error)
        async with self._state.lock:
            with self.runtime.holding_nodes_started():  # receive only once every flow's nodes listen
                for connection in self.connections.values():
                    await self.runtime.add_connection(connection.spec)
                for record in self.flows.values():
                    await self.runtime.deploy(record.spec)
        self.ready = True

    # -- connections -------------------------------------------------------------------------------------------
    def connection_ids(self) -> list[str]:
        return self._state.connection_ids()

    def connection_view(self, connection_id: str) -> dict[str, Any]:
        return self._connections.view(connection_id)

    async def create_connection(self, body: Any) -> dict[str, Any]:
        return await self._connections.create(body)

    async def replace_connection(self, connection_id: str, body: Any) -> dict[str, Any]:
        return await self._connections.replace(connection_id, body)

    async def delete_connection(self, connection_id: str) -> None:
        await self._connections.delete(connection_id)

    # -- flows -------------------------------------------------------------------------------------------------
    def flow(self, flow_id: str) -> FlowRecord:
        return self._flows.get(flow_id)

    def flow_summary(self, record: FlowRecord) -> dict[str, Any]:
        return self._flows.summary(record)

    def flow_view(self, record: FlowRecord) -> dict[str, Any]:
        return self._flows.view(record)

    def flow_yaml(self, record: FlowRecord) -> str:
        """The flow file's text, with any secret written in it as plain text masked."""
        return self._flows.yaml(record)

    def flow_status(self, record: FlowRecord) -> dict[str, Any]:
        return self._flows.status(record)

    def check_flow(self, body: Any, flow_id: str | None = None) -> list[dict[str, Any]]:
        """Every error of a flow document (JSON form), without changing anything."""
        return self._flows.check(body, flow_id)

    async def create_flow(self, body: Any, root: Any = None, style: YamlStyle = DEFAULT_STYLE) -> FlowRecord:
        """A new flow from its JSON form; ``root`` and ``style``: the YAML it was imported from."""
        return await self._flows.create(body, root, style)

    async def replace_flow(self, flow_id: str, body: Any) -> FlowRecord:
        return await self._flows.replace(flow_id, body)

    async def delete_flow(self, flow_id: str) -> None:
        await self._flows.delete(flow_id)


__all__ = [
    "API_CONNECTION_SCHEMA",
    "MASK",
    "ApiConnection",
    "Conflict",
    "FlowRecord",
    "Invalid",
    "NotFound",
    "Workspace",
    "WorkspaceError",
]
