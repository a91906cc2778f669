"""The flows and connections that flowhost runs, as the REST API and ``flowhost run`` see them.

It validates changes completely before anything changes, keeps secrets out of files and responses (secret
fields are masked as ``********``; new values are encrypted in the data directory and referenced as
``!secret NAME``), writes flows back to their YAML files keeping the user's comments, and applies the change
to the runtime, which restarts only what changed. All changes go through one lock.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import voluptuous as vol

from .flow_yaml import (
    DEFAULT_STYLE,
    FlowError,
    FlowValidationError,
    YamlStyle,
    dump_yaml,
    from_json_document,
    guess_style,
    new_document,
    read_yaml,
    to_json_document,
    update_document,
    without_empty_sections,
)
from .flowfile import CONNECTION_SCHEMA, ConnectionSpec, FlowSpec, read_flow_file, validate_connection, validate_flow
from .runtime import Runtime
from .store import Store, StoreError, StoreSecretResolver, write_text_file
from .validation import identifier

log = logging.getLogger(__name__)

MASK = "********"
"""What a secret field shows in the API; sending it back keeps the stored secret."""

API_CONNECTION_SCHEMA = CONNECTION_SCHEMA.extend(
    {vol.Optional("id"): identifier, vol.Required("name"): str, vol.Required("configuration"): dict}
)
"""ThingPark's body: connectorId, name and the whole configuration; id optional (generated from the name)."""


class WorkspaceError(Exception):
    """A refused change; ``errors`` are ``{"path", "message"}`` items, ``status`` the HTTP status to answer."""

    status = 400

    def __init__(self, errors: Iterable[FlowError | dict[str, Any]]) -> None:
        self.errors = [error.as_json() if isinstance(error, FlowError) else error for error in errors]
        super().__init__("; ".join(f"{e['path']}: {e['message']}" if e["path"] else e["message"] for e in self.errors))

    @classmethod
    def one(cls, message: str, path: str = "") -> WorkspaceError:
        return cls([{"path": path, "message": message}])


class Invalid(WorkspaceError):
    status = 400


class Conflict(WorkspaceError):
    status = 409


class NotFound(WorkspaceError):
    status = 404


@dataclass
class FlowRecord:
    root: Any
    """The round-trip YAML document: comments, key order and ``!secret`` / ``!env_var`` references."""
    spec: FlowSpec
    path: Path
    """Where the flow is written when it changes."""
    origin: str
    """``command-line`` (a FLOW_FILE argument), ``api`` (the data directory) or ``demo``."""
    style: YamlStyle = DEFAULT_STYLE
    """The file's indentation, kept when writing it back."""
    rev: str = ""
    disk_rev: str | None = None
    """The rev of the file's text as last read or written: a file changed on disk since is not overwritten."""

    def text(self) -> str:
        return dump_yaml(self.root, self.style)

    @property
    def id(self) -> str:
        return self.spec.id


@dataclass
class ApiConnection:
    stored: dict[str, Any]
    """The document as stored: secret fields are ``{"$secret": name}``."""
    spec: ConnectionSpec


def _rev(text: str) -> str:
    """A flow's revision: a hash of its file's text."""
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")[:60] or "connection"


def _secret_name(*parts: str) -> str:
    """A ``!secret`` name that is also valid in ``FLOWHOST_SECRET_<NAME>``."""
    return re.sub(r"[^A-Za-z0-9_]", "_", "_".join(parts))


def _referenced_secrets(document: Any) -> set[str]:
    """Every ``!secret`` name a flow document (JSON form) refers to."""
    if isinstance(document, Mapping):
        if set(document) == {"$secret"} and isinstance(document["$secret"], str):
            return {document["$secret"]}
        return set().union(*(_referenced_secrets(value) for value in document.values()))
    if isinstance(document, list):
        return set().union(*(_referenced_secrets(value) for value in document))
    return set()


def _own_flow_secrets(flow_id: str, root: Any) -> set[str]:
    """The secrets the API stored for this flow's values (named after it) that its document refers to."""
    prefix = _secret_name(flow_id) + "_"
    return {name for name in _referenced_secrets(to_json_document(root)) if name.startswith(prefix)}


class Workspace:
    def __init__(self, runtime: Runtime, store: Store) -> None:
        self.runtime = runtime
        self.store = store
        self.flows: dict[str, FlowRecord] = {}
        self.connections: dict[str, ApiConnection] = {}
        self._lock = asyncio.Lock()
        self._loaded_connections = False
        self._started = False
        self.ready = False
        """True once ``start()`` has started the connections and flows, until the process stops (``/healthz``)."""

    @property
    def registry(self):
        return self.runtime.registry

    # -- loading at start ------------------------------------------------------------------------------------
    def load_connections(self) -> list[str]:
        """Read and validate the connections stored by the API; returns the errors (``file: path: message``)."""
        if self._loaded_connections:
            return []
        self._loaded_connections = True
        errors: list[str] = []
        try:
            documents = self.store.load_connections()
        except StoreError as exc:
            return [str(exc)]
        for index, document in enumerate(documents):
            try:
                spec = self._validate_connection(document, {})
            except WorkspaceError as exc:
                errors.extend(
                    f"{self.store.connections_path}: connections[{index}].{error['path']}: {error['message']}"
                    for error in exc.errors
                )
                continue
            self.connections[spec.id] = ApiConnection(document, spec)
        return errors

    def load_flow_files(
        self, paths: Iterable[Path], *, demo: Path | None = None, include_stored: bool = True
    ) -> list[str]:
        """Read and validate the flows to run: ``paths`` (the command line), the data directory's flows (unless
        ``include_stored`` is false), and ``demo`` when there are no others. Returns every error as text."""
        self.load_connections()
        candidates = [(Path(path), Path(path), "command-line") for path in paths]
        if include_stored:
            candidates += [(path, path, "api") for path in self.store.stored_flow_files()]
        if not candidates and demo is not None:
            candidates.append((demo, None, "demo"))
        errors: list[str] = []
        defined_by: dict[str, str] = {}
        for source, target, origin in candidates:
            try:
                root = read_flow_file(source)
                spec = validate_flow(
                    root,
                    self.registry,
                    source=str(source),
                    root=root,
                    resolver=StoreSecretResolver(source.parent, self.store.secrets),
                    external_connections=self.connections,
                )
            except FlowValidationError as exc:
                errors.extend(str(error) for error in exc.errors)
                continue
            if spec.id in self.flows:
                errors.append(f"{source}: flow id '{spec.id}' is also used by {self.flows[spec.id].spec.source}")
                continue
            for connection in spec.connections:
                other = defined_by.get(connection.id) or (
                    "the API (connections.json)" if connection.id in self.connections else None
                )
                if other:
                    errors.append(f"{source}: connection id '{connection.id}' is also defined by {other}")
                defined_by[connection.id] = f"flow {spec.id} ({source})"
            text = source.read_text(encoding="utf-8")
            record = FlowRecord(root, spec, target or self.store.flow_path(spec.id), origin, guess_style(text, root))
            record.rev = _rev(record.text())
            record.disk_rev = _rev(text) if target is not None else None
            self.flows[spec.id] = record
        return errors

    async def start(self) -> None:
        """Start the stored connections, then deploy the loaded flows (once)."""
        if self._started:
            return
        self._started = True
        for error in self.load_connections():
            log.error("%s", error)
        async with self._lock:
            with self.runtime.holding_nodes_started():  # receive only once every flow's nodes listen
                for connection in self.connections.values():
                    await self.runtime.add_connection(connection.spec)
                for record in self.flows.values():
                    await self.runtime.deploy(record.spec)
        self.ready = True

    # -- connections -------------------------------------------------------------------------------------------
    def connection_ids(self) -> list[str]:
        flow_defined = [c.id for record in self.flows.values() for c in record.spec.connections]
        return sorted({*self.connections, *flow_defined})

    def connection_view(self, connection_id: str) -> dict[str, Any]:
        api = self.connections.get(connection_id)
        if api is not None:
            document, defined_by = dict(api.stored), {"api": True}
        else:
            found = self._flow_connection(connection_id)
            if found is None:
                raise NotFound.one(f"no connection '{connection_id}'")
            record, document = found
            document = to_json_document(document)
            defined_by = {"flow": record.id}
        view = {
            "id": connection_id,
            "connectorId": document.get("connectorId"),
            "name": document.get("name") or connection_id,
            "active": document.get("active", True),
            "configuration": self._masked(document.get("connectorId"), document.get("configuration") or {}),
            "definedBy": defined_by,
            "readOnly": "flow" in defined_by,
        }
        runner = self.runtime.connections.get(connection_id)
        view.update(runner.connection.snapshot() if runner else {"state": "CLOSED", "lastError": None, "counters": {}})
        return view

    def _flow_connection(self, connection_id: str) -> tuple[FlowRecord, Mapping[str, Any]] | None:
        for record in self.flows.values():
            for item in record.root.get("connections") or []:
                if isinstance(item, Mapping) and item.get("id") == connection_id:
                    return record, item
        return None

    def _secret_fields(self, connector_id: Any) -> frozenset[str]:
        connection_class = self.registry.connection_types.get(connector_id) if isinstance(connector_id, str) else None
        return connection_class.secret_fields if connection_class is not None else frozenset()

    def _masked(self, connector_id: Any, configuration: Mapping[str, Any], only_values: bool = False) -> dict[str, Any]:
        return self._mask_fields(configuration, self._secret_fields(connector_id), only_values)

    @staticmethod
    def _mask_fields(values: Mapping[str, Any], secret_fields: frozenset[str], only_values: bool) -> dict[str, Any]:
        """``only_values``: ``{"$secret"}`` / ``{"$env"}`` references are shown, values never."""
        return {
            key: MASK if key in secret_fields and not (only_values and isinstance(value, Mapping)) else value
            for key, value in values.items()
        }

    async def create_connection(self, body: Any) -> dict[str, Any]:
        async with self._lock:
            body = _object(body)
            connection_id = body.get("id")
            if connection_id is None:
                name = body.get("name")
                connection_id = self._free_connection_id(_slug(name if isinstance(name, str) else ""))
            if isinstance(connection_id, str) and connection_id in self.connection_ids():
                raise Conflict.one(f"connection '{connection_id}' already exists", "id")
            stored, pending = self._protect_secrets(
                {**body, "id": connection_id}, None, lambda field: _secret_name("connection", str(connection_id), field)
            )
            spec = self._validate_connection(stored, pending)
            self.store.secrets.update(pending)
            self.connections[spec.id] = ApiConnection(stored, spec)
            self._save_connections()
            await self.runtime.add_connection(spec)
            return self.connection_view(spec.id)

    async def replace_connection(self, connection_id: str, body: Any) -> dict[str, Any]:
        async with self._lock:
            current = self._api_connection(connection_id)
            body = _object(body)
            if body.get("id", connection_id) != connection_id:
                raise Invalid.one(f"id must be '{connection_id}' (the id in the URL) or left out", "id")
            stored, pending = self._protect_secrets(
                {**body, "id": connection_id},
                current.stored,
                lambda field: _secret_name("connection", connection_id, field),
            )
            spec = self._validate_connection(stored, pending)
            removed = self._own_secret_names(connection_id, current.stored) - self._secret_names(stored)
            self.store.secrets.update(pending, removed)
            self.connections[connection_id] = ApiConnection(stored, spec)
            self._save_connections()
            await self.runtime.add_connection(spec)
            return self.connection_view(connection_id)

    async def delete_connection(self, connection_id: str) -> None:
        async with self._lock:
            current = self._api_connection(connection_id)
            users = sorted({*self.runtime.flows_using_connection(connection_id), *self._flows_naming(connection_id)})
            if users:
                raise Conflict.one(
                    f"connection '{connection_id}' is used by flow(s) {', '.join(users)}; change or delete them first"
                )
            await self.runtime.remove_connection(connection_id)
            del self.connections[connection_id]
            self._save_connections()
            self.store.secrets.update({}, self._own_secret_names(connection_id, current.stored))

    def _flows_naming(self, connection_id: str) -> list[str]:
        return [
            record.id
            for record in self.flows.values()
            for node in record.spec.nodes
            if connection_id
            in {node.config.get(name) for name in self.registry.node_types[node.type].connection_fields}
        ]

    def _api_connection(self, connection_id: str) -> ApiConnection:
        current = self.connections.get(connection_id)
        if current is not None:
            return current
        found = self._flow_connection(connection_id)
        if found is not None:
            raise Conflict.one(
                f"connection '{connection_id}' is defined in flow '{found[0].id}' ({found[0].path}); "
                "change it there (PUT /api/flows/{id})"
            )
        raise NotFound.one(f"no connection '{connection_id}'")

    def _free_connection_id(self, base: str) -> str:
        taken, candidate, number = set(self.connection_ids()), base, 1
        while candidate in taken:
            number += 1
            candidate = f"{base}-{number}"
        return candidate

    def _validate_connection(self, stored: Mapping[str, Any], pending: Mapping[str, str]) -> ConnectionSpec:
        try:
            return validate_connection(
                from_json_document(stored),
                self.registry,
                schema=API_CONNECTION_SCHEMA,
                resolver=StoreSecretResolver(None, self.store.secrets, pending),
            )
        except FlowValidationError as exc:
            raise Invalid(exc.errors) from None

    def _save_connections(self) -> None:
        self.store.save_connections([connection.stored for connection in self.connections.values()])

    def _own_secret_names(self, connection_id: str, document: Mapping[str, Any]) -> set[str]:
        """The secrets this connection's values were stored under (not other secrets it refers to)."""
        own = {
            _secret_name("connection", connection_id, field)
            for field in self._secret_fields(document.get("connectorId"))
        }
        return self._secret_names(document) & own

    @staticmethod
    def _secret_names(document: Mapping[str, Any]) -> set[str]:
        configuration = document.get("configuration")
        if not isinstance(configuration, Mapping):
            return set()
        return {
            value["$secret"]
            for value in configuration.values()
            if isinstance(value, Mapping) and isinstance(value.get("$secret"), str)
        }

    def _protect_secrets(
        self,
        entry: dict[str, Any],
        previous: Mapping[str, Any] | None,
        name_for: Any,
        path: str = "configuration",
        *,
        key: str = "configuration",
        secret_fields: Iterable[str] | None = None,
    ) -> tuple[dict[str, Any], dict[str, str]]:
        """Replace the secret fields' values in ``entry[key]`` (a connection's configuration, by default, or a
        node's config) by ``{"$secret": name}``.

        ``********`` keeps the previous entry's value; a new value becomes a pending secret (stored only when
        the whole change is valid). Returns the entry and the pending secrets.
        """
        values = entry.get(key)
        if not isinstance(values, Mapping):
            return entry, {}
        previous_values = (previous or {}).get(key) or {}
        values = dict(values)
        pending: dict[str, str] = {}
        errors = []
        if secret_fields is None:
            secret_fields = self._secret_fields(entry.get("connectorId"))
        for field_name in secret_fields:
            value = values.get(field_name)
            if value == MASK:
                if field_name in previous_values:
                    values[field_name] = to_json_document(previous_values[field_name])
                else:
                    errors.append(
                        {
                            "path": f"{path}.{field_name}",
                            "message": f"'{MASK}' stands for the stored {field_name}, but none is stored; "
                            "give the value",
                        }
                    )
            elif isinstance(value, str):
                name = name_for(field_name)
                pending[name] = value
                values[field_name] = {"$secret": name}
        if errors:
            raise Invalid(errors)
        return {**entry, key: values}, pending

    def _node_secret_fields(self, node_type: Any) -> frozenset[str]:
        """A node type's ``secret_fields`` (config keys masked and encrypted like a connection's), if it has any."""
        node_class = self.registry.node_types.get(node_type) if isinstance(node_type, str) else None
        return node_class.secret_fields if node_class is not None else frozenset()

    # -- flows -------------------------------------------------------------------------------------------------
    def flow(self, flow_id: str) -> FlowRecord:
        record = self.flows.get(flow_id)
        if record is None:
            raise NotFound.one(f"no flow '{flow_id}'")
        return record

    def flow_summary(self, record: FlowRecord) -> dict[str, Any]:
        return {
            "id": record.id,
            "label": record.spec.label,
            "description": record.spec.description,
            "rev": record.rev,
            "file": str(record.path),
            "origin": record.origin,
            "nodes": len(record.spec.nodes),
            "deployed": record.id in self.runtime.flows,
        }

    def flow_view(self, record: FlowRecord) -> dict[str, Any]:
        document = self._masked_flow(to_json_document(record.root))
        document["rev"] = record.rev
        return document

    def flow_yaml(self, record: FlowRecord) -> str:
        """The flow file's text, with any secret written in it as plain text masked."""
        masked = from_json_document(self._masked_flow(to_json_document(record.root), only_values=True))
        return dump_yaml(update_document(read_yaml(record.text(), record.id), masked), record.style)

    def _masked_flow(self, document: dict[str, Any], *, only_values: bool = False) -> dict[str, Any]:
        """Secret fields of the flow's connections and nodes masked (``only_values``: references are kept)."""
        connections = document.get("connections")
        if isinstance(connections, list):
            document["connections"] = [
                {
                    **item,
                    "configuration": self._masked(item.get("connectorId"), item["configuration"], only_values),
                }
                if isinstance(item, dict) and isinstance(item.get("configuration"), dict)
                else item
                for item in connections
            ]
        nodes = document.get("nodes")
        if isinstance(nodes, list):
            document["nodes"] = [
                {
                    **item,
                    "config": self._mask_fields(
                        item["config"], self._node_secret_fields(item.get("type")), only_values
                    ),
                }
                if isinstance(item, dict) and isinstance(item.get("config"), dict)
                else item
                for item in nodes
            ]
        return document

    def check_flow(self, body: Any, flow_id: str | None = None) -> list[dict[str, Any]]:
        """Every error of a flow document (JSON form), without changing anything."""
        previous = self.flows.get(flow_id) if flow_id else None
        try:
            body = _object(body)
            body.pop("rev", None)
            self._prepare_flow(body, previous)
        except WorkspaceError as exc:
            return exc.errors
        return []

    async def create_flow(self, body: Any, root: Any = None, style: YamlStyle = DEFAULT_STYLE) -> FlowRecord:
        """A new flow from its JSON form; ``root`` and ``style``: the YAML it was imported from."""
        async with self._lock:
            body = _object(body)
            body.pop("rev", None)
            if isinstance(body.get("id"), str) and body["id"] in self.flows:
                raise Conflict.one(
                    f"flow '{body['id']}' already exists; change it with PUT /api/flows/{body['id']}", "id"
                )
            document, spec, pending = self._prepare_flow(body, None)
            self.store.secrets.update(pending)
            if root is not None:
                root = update_document(root, without_empty_sections(document, root))
            else:
                root = new_document(document, spec.id)
            record = FlowRecord(root, spec, self.store.flow_path(spec.id), "api", style)
            await self._write_and_deploy(record)
            self.flows[spec.id] = record
            return record

    async def replace_flow(self, flow_id: str, body: Any) -> FlowRecord:
        async with self._lock:
            record = self.flow(flow_id)
            body = _object(body)
            rev = body.pop("rev", None)
            if rev is None:
                raise Invalid.one("give the rev of the flow you changed (from GET /api/flows/{id})", "rev")
            if rev != record.rev:
                raise Conflict.one(
                    f"the flow changed since rev {rev} (now {record.rev}); load it again and redo your change", "rev"
                )
            body.setdefault("id", flow_id)
            if body["id"] != flow_id:
                raise Invalid.one(f"id must be '{flow_id}' (the id in the URL); create a new flow to rename", "id")
            document, spec, pending = self._prepare_flow(body, record)
            self._check_file_unchanged(record)
            # Secrets of values the change removed (a node or connection gone) go too.
            dropped = _own_flow_secrets(flow_id, record.root) - _referenced_secrets(to_json_document(document))
            self.store.secrets.update(pending, dropped)
            update_document(record.root, without_empty_sections(document, record.root))
            record.spec = spec
            await self._write_and_deploy(record)
            return record

    async def delete_flow(self, flow_id: str) -> None:
        async with self._lock:
            record = self.flow(flow_id)
            if record.origin == "command-line":
                raise Conflict.one(
                    f"flow '{flow_id}' comes from {record.path}, given on flowhost's command line; "
                    "remove it from the command line instead"
                )
            users = sorted(
                {
                    flow
                    for connection in record.spec.connections
                    for flow in self.runtime.flows_using_connection(connection.id)
                    if flow != flow_id
                }
            )
            if users:
                raise Conflict.one(f"flow '{flow_id}' defines connections that flow(s) {', '.join(users)} use")
            await self.runtime.remove_flow(flow_id)
            del self.flows[flow_id]
            if record.origin == "api":
                record.path.unlink(missing_ok=True)
                # The file that referred to them is gone. (A flow given on the command line keeps its file,
                # which may still refer to them, and cannot be deleted through the API anyway.)
                self.store.secrets.update({}, _own_flow_secrets(flow_id, record.root))

    @staticmethod
    def _check_file_unchanged(record: FlowRecord) -> None:
        if record.disk_rev is None:
            return
        try:
            text = record.path.read_text(encoding="utf-8")
        except FileNotFoundError:
            return
        except (OSError, UnicodeDecodeError) as exc:
            raise Conflict.one(f"{record.path} cannot be read to check it before writing: {exc}") from None
        if _rev(text) != record.disk_rev:
            raise Conflict.one(
                f"{record.path} changed on disk since flowhost read it; restart flowhost (or undo the edit) "
                "before saving from the editor, so that neither change is lost"
            )

    async def _write_and_deploy(self, record: FlowRecord) -> None:
        text = record.text()
        write_text_file(record.path, text)
        if record.origin == "demo":
            record.origin = "api"  # from now on the changed copy in the data directory is the flow
        record.rev = record.disk_rev = _rev(text)
        await self.runtime.deploy(record.spec)

    def _prepare_flow(
        self, body: dict[str, Any], previous: FlowRecord | None
    ) -> tuple[dict[str, Any], FlowSpec, dict[str, str]]:
        """The document to write (secrets as references), its validated spec and the new secrets."""
        flow_id = body.get("id") if isinstance(body.get("id"), str) else "flow"
        old_connections = {
            item["id"]: item
            for item in ((previous.root.get("connections") or []) if previous else [])
            if isinstance(item, Mapping) and isinstance(item.get("id"), str)
        }
        pending: dict[str, str] = {}
        errors: list[dict[str, Any]] = []
        connections = body.get("connections")
        if isinstance(connections, list):
            protected = []
            for index, item in enumerate(connections):
                if not isinstance(item, dict):
                    protected.append(item)
                    continue
                connection_id = item.get("id") if isinstance(item.get("id"), str) else str(index)
                try:
                    item, new_secrets = self._protect_secrets(
                        item,
                        old_connections.get(connection_id),
                        lambda field, c=connection_id: _secret_name(flow_id, c, field),
                        path=f"connections[{index}].configuration",
                    )
                except WorkspaceError as exc:
                    errors.extend(exc.errors)
                else:
                    pending.update(new_secrets)
                protected.append(item)
                errors.extend(self._connection_id_clashes(item.get("id"), index, flow_id))
            body = {**body, "connections": protected}
        nodes = body.get("nodes")
        if isinstance(nodes, list):
            old_nodes = {
                item["id"]: item
                for item in ((previous.root.get("nodes") or []) if previous else [])
                if isinstance(item, Mapping) and isinstance(item.get("id"), str)
            }
            protected = []
            for index, item in enumerate(nodes):
                secret_fields = self._node_secret_fields(item.get("type")) if isinstance(item, dict) else ()
                if secret_fields:
                    node_id = item.get("id") if isinstance(item.get("id"), str) else str(index)
                    try:
                        item, new_secrets = self._protect_secrets(
                            item,
                            old_nodes.get(node_id),
                            lambda field, n=node_id: _secret_name(flow_id, "node", n, field),
                            path=f"nodes[{index}].config",
                            key="config",
                            secret_fields=secret_fields,
                        )
                    except WorkspaceError as exc:
                        errors.extend(exc.errors)
                    else:
                        pending.update(new_secrets)
                protected.append(item)
            body = {**body, "nodes": protected}
        document = from_json_document(body)
        try:
            spec = validate_flow(
                document,
                self.registry,
                resolver=StoreSecretResolver(
                    previous.path.parent if previous else self.store.flows_dir, self.store.secrets, pending
                ),
                external_connections=self.connections,
            )
        except FlowValidationError as exc:
            errors.extend(error.as_json() for error in exc.errors)
            spec = None
        else:  # the file it will be saved to: relative paths in node configs (codec folders) stay relative to it
            spec.source = previous.path if previous else self.store.flow_path(spec.id)
        if errors or spec is None:
            raise Invalid(sorted(errors, key=lambda error: error["path"]))
        return document, spec, pending

    def _connection_id_clashes(self, connection_id: Any, index: int, flow_id: str) -> list[dict[str, Any]]:
        if not isinstance(connection_id, str):
            return []
        path = f"connections[{index}].id"
        if connection_id in self.connections:
            return [{"path": path, "message": f"connection id '{connection_id}' is already defined through the API"}]
        for record in self.flows.values():
            if record.id != flow_id and any(c.id == connection_id for c in record.spec.connections):
                return [
                    {"path": path, "message": f"connection id '{connection_id}' is already defined by flow {record.id}"}
                ]
        return []

    def flow_status(self, record: FlowRecord) -> dict[str, Any]:
        running = self.runtime.flows.get(record.id)
        nodes = {node_id: runner.snapshot() for node_id, runner in (running.nodes.items() if running else ())}
        return {"id": record.id, "deployed": running is not None, "nodes": nodes}


def _object(body: Any) -> dict[str, Any]:
    if not isinstance(body, Mapping):
        raise Invalid.one("the body must be a JSON object")
    return dict(body)


__all__ = ["MASK", "Conflict", "FlowRecord", "Invalid", "NotFound", "Workspace", "WorkspaceError"]
