"""The connections of the REST API (``connections.json``), and the views of every connection.

A connection defined in a flow file is shown too, read-only: it changes with its flow.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

import voluptuous as vol

from ..connection_users import connection_ids_of
from ..flow_yaml import FlowValidationError, from_json_document, to_json_document
from ..flowfile import CONNECTION_SCHEMA, ConnectionSpec, validate_connection
from ..secrets.policy import configuration_secrets
from ..secrets.store import StoreSecretResolver
from ..store import StoreError
from ..validation import identifier
from .errors import Conflict, Invalid, NotFound, WorkspaceError, json_object
from .state import ApiConnection, WorkspaceState

API_CONNECTION_SCHEMA = CONNECTION_SCHEMA.extend(
    {vol.Optional("id"): identifier, vol.Required("name"): str, vol.Required("configuration"): dict}
)
"""ThingPark's body: connectorId, name and the whole configuration; id optional (generated from the name)."""

_CLOSED = {"state": "CLOSED", "lastError": None, "counters": {}}


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")[:60] or "connection"


class Connections:
    """Reads, shows and changes the API's connections; each change under the workspace's lock."""

    def __init__(self, state: WorkspaceState) -> None:
        self.state = state
        self._loaded = False

    def load(self) -> list[str]:
        """Read and validate the connections stored by the API; returns the errors (``file: path: message``)."""
        if self._loaded:
            return []
        self._loaded = True
        store = self.state.store
        try:
            documents = store.load_connections()
        except StoreError as exc:
            return [str(exc)]
        errors: list[str] = []
        for index, document in enumerate(documents):
            try:
                spec = self._validate(document, {})
            except WorkspaceError as exc:
                errors.extend(
                    f"{store.connections_path}: connections[{index}].{error['path']}: {error['message']}"
                    for error in exc.errors
                )
                continue
            self.state.connections[spec.id] = ApiConnection(document, spec)
        return errors

    def view(self, connection_id: str) -> dict[str, Any]:
        api = self.state.connections.get(connection_id)
        if api is not None:
            document, defined_by = dict(api.stored), {"api": True}
        else:
            found = self.state.flow_connection(connection_id)
            if found is None:
                raise NotFound.one(f"no connection '{connection_id}'")
            record, item = found
            document, defined_by = to_json_document(item), {"flow": record.id}
        view = {
            "id": connection_id,
            "connectorId": document.get("connectorId"),
            "name": document.get("name") or connection_id,
            "active": document.get("active", True),
            "configuration": self.state.policy.mask_connection(
                document.get("connectorId"), document.get("configuration") or {}
            ),
            "definedBy": defined_by,
            "readOnly": "flow" in defined_by,
        }
        runner = self.state.runtime.connections.get(connection_id)
        view.update(runner.connection.snapshot() if runner else _CLOSED)
        return view

    async def create(self, body: Any) -> dict[str, Any]:
        async with self.state.lock:
            body = json_object(body)
            connection_id = body.get("id")
            if connection_id is None:
                name = body.get("name")
                connection_id = self.state.free_connection_id(_slug(name if isinstance(name, str) else ""))
            if isinstance(connection_id, str) and connection_id in self.state.connection_ids():
                raise Conflict.one(f"connection '{connection_id}' already exists", "id")
            return await self._put(str(connection_id), {**body, "id": connection_id}, None)

    async def replace(self, connection_id: str, body: Any) -> dict[str, Any]:
        async with self.state.lock:
            current = self._api_connection(connection_id)
            body = json_object(body)
            if body.get("id", connection_id) != connection_id:
                raise Invalid.one(f"id must be '{connection_id}' (the id in the URL) or left out", "id")
            return await self._put(connection_id, {**body, "id": connection_id}, current.stored)

    async def _put(self, connection_id: str, body: dict[str, Any], previous: dict[str, Any] | None) -> dict[str, Any]:
        """Store and start a connection (new, or replacing ``previous``); its secrets go to the secret store."""
        protected = self.state.policy.protect_connection(body, previous, connection_id)
        if protected.errors:
            raise Invalid(protected.errors)
        stored, pending = protected.document, protected.pending
        spec = self._validate(stored, pending)
        removed = set()
        if previous is not None:
            removed = self.state.policy.own_connection_secrets(connection_id, previous) - configuration_secrets(stored)
        self.state.store.secrets.update(pending, removed)
        self.state.connections[spec.id] = ApiConnection(stored, spec)
        self._save()
        await self.state.runtime.add_connection(spec)
        return self.view(spec.id)

    async def delete(self, connection_id: str) -> None:
        async with self.state.lock:
            current = self._api_connection(connection_id)
            running = self.state.runtime.flows_using_connection(connection_id)
            users = sorted({*running, *self._flows_naming(connection_id)})
            if users:
                raise Conflict.one(
                    f"connection '{connection_id}' is used by flow(s) {', '.join(users)}; change or delete them first"
                )
            await self.state.runtime.remove_connection(connection_id)
            del self.state.connections[connection_id]
            self._save()
            self.state.store.secrets.update({}, self.state.policy.own_connection_secrets(connection_id, current.stored))

    def _flows_naming(self, connection_id: str) -> list[str]:
        node_types = self.state.registry.node_types
        return [
            record.id
            for record in self.state.flows.values()
            for node in record.spec.nodes
            if connection_id in connection_ids_of(node, node_types[node.type])
        ]

    def _api_connection(self, connection_id: str) -> ApiConnection:
        current = self.state.connections.get(connection_id)
        if current is not None:
            return current
        found = self.state.flow_connection(connection_id)
        if found is not None:
            raise Conflict.one(
                f"connection '{connection_id}' is defined in flow '{found[0].id}' ({found[0].path}); "
                "change it there (PUT /api/flows/{id})"
            )
        raise NotFound.one(f"no connection '{connection_id}'")

    def _validate(self, stored: Mapping[str, Any], pending: Mapping[str, str]) -> ConnectionSpec:
        try:
            return validate_connection(
                from_json_document(stored),
                self.state.registry,
                schema=API_CONNECTION_SCHEMA,
                resolver=StoreSecretResolver(None, self.state.store.secrets, pending),
            )
        except FlowValidationError as exc:
            raise Invalid(exc.errors) from None

    def _save(self) -> None:
        self.state.store.save_connections([connection.stored for connection in self.state.connections.values()])
