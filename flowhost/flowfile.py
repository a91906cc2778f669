"""Flow files: YAML in, a validated FlowSpec out, every error reported as ``FILE:LINE:COL: path: message``.

The same validation serves JSON from the REST API, without positions.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import voluptuous as vol

from .flow_yaml import (
    FlowError,
    FlowValidationError,
    PathItem,
    position,
    read_yaml,
)
from .node import Node
from .registry import Registry
from .secrets.references import EnvRef, Secret, SecretNotFound, SecretRef, SecretResolver
from .validation import closest, identifier

FORMAT_VERSION = 1


@dataclass
class NodeSpec:
    id: str
    type: str
    config: Mapping[str, Any]
    raw_config: Mapping[str, Any]
    wires: dict[str, list[str]]
    name: str | None = None

    def same_setup(self, other: NodeSpec) -> bool:
        """Whether a redeploy can keep the running node (wiring changes do not need a restart)."""
        return self.type == other.type and self.raw_config == other.raw_config and self.name == other.name


@dataclass
class ConnectionSpec:
    id: str
    connector_id: str
    name: str
    active: bool
    configuration: Mapping[str, Any]
    raw_configuration: Mapping[str, Any]
    description: str | None = None

    def same_setup(self, other: ConnectionSpec) -> bool:
        return (
            self.connector_id == other.connector_id
            and self.active == other.active
            and self.raw_configuration == other.raw_configuration
        )


@dataclass
class FlowSpec:
    id: str
    label: str
    nodes: list[NodeSpec]
    connections: list[ConnectionSpec]
    layout: dict[str, dict[str, float]] = field(default_factory=dict)
    description: str | None = None
    source: Path | None = None

    def node(self, node_id: str) -> NodeSpec:
        return next(node for node in self.nodes if node.id == node_id)


# ---- validation ---------------------------------------------------------------------------------------------


def _mapping(value: Any) -> dict | None:
    """A mapping or nothing (``config:`` left empty); one validator, so that the error says what is expected."""
    if value is None:
        return None
    if not isinstance(value, Mapping):
        raise vol.Invalid("expected a mapping")
    return dict(value)


def _list(value: Any) -> list | None:
    if value is None:
        return None
    if not isinstance(value, list):
        raise vol.Invalid("expected a list")
    return value


WIRES_SCHEMA = vol.Schema({str: vol.All(vol.Any([identifier], vol.All(identifier, lambda v: [v])))})

NODE_SCHEMA = vol.Schema(
    {
        vol.Required("id"): identifier,
        vol.Required("type"): str,
        vol.Optional("name"): str,
        vol.Optional("config", default=dict): _mapping,
        vol.Optional("wires", default=dict): vol.Any(None, WIRES_SCHEMA),
        vol.Optional("disabled", default=False): bool,
    }
)

CONNECTION_SCHEMA = vol.Schema(
    {
        vol.Required("id"): identifier,
        vol.Required("connectorId"): str,
        vol.Optional("name"): str,
        vol.Optional("active", default=True): bool,
        vol.Optional("configuration", default=dict): _mapping,
    }
)

LAYOUT_SCHEMA = vol.Schema({str: {vol.Required("x"): vol.Coerce(float), vol.Required("y"): vol.Coerce(float)}})

FLOW_SCHEMA = vol.Schema(
    {
        vol.Required("flowhost"): vol.All(
            int,
            vol.In([FORMAT_VERSION], msg=f"unsupported format version; this flowhost reads {FORMAT_VERSION}"),
        ),
        vol.Required("id"): identifier,
        vol.Optional("label"): str,
        vol.Optional("description"): str,
        vol.Optional("connections", default=list): _list,
        vol.Optional("nodes", default=list): _list,
        vol.Optional("layout", default=dict): _mapping,
    }
)


class _Collector:
    """Gathers errors with their positions in the source document."""

    def __init__(self, root: Any, source: str | None) -> None:
        self.root, self.source = root, source
        self.errors: list[FlowError] = []
        self.unresolved_secrets: set[tuple[PathItem, ...]] = set()
        """Where a secret could not be resolved: the schema's complaint about the empty value there is noise."""

    def add(
        self,
        path: Sequence[PathItem],
        message: str,
        *,
        at: Sequence[PathItem] | None = None,
        of_key: bool = False,
    ) -> None:
        if tuple(path) in self.unresolved_secrets:
            return
        where = position(self.root, at if at is not None else path, of_key=of_key) if self.root is not None else None
        line, column = where if where else (None, None)
        self.errors.append(FlowError(tuple(path), message, self.source, line, column))

    def add_invalid(self, prefix: Sequence[PathItem], error: vol.Invalid, schema: vol.Schema) -> None:
        errors = error.errors if isinstance(error, vol.MultipleInvalid) else [error]
        for item in errors:
            path = [*prefix, *item.path]
            message = item.error_message
            of_key = False
            if message == "extra keys not allowed" and item.path:
                key = item.path[-1]
                valid = _keys_at(schema, list(item.path[:-1]))
                suggestion = closest(str(key), valid) if valid else None
                message = f"unknown key '{key}'" + (f" (did you mean '{suggestion}'?)" if suggestion else "")
                if valid:
                    message += f"; valid keys: {', '.join(sorted(valid))}"
                of_key = True
            self.add(path, message, of_key=of_key)


ErrorCollector = _Collector
"""For other YAML files validated the same way (``flowhost test`` files): errors with file:line positions."""


def _keys_at(schema: vol.Schema, path: list[PathItem]) -> list[str]:
    """The keys a (nested) dict schema accepts at ``path``, for 'did you mean' suggestions."""
    node: Any = schema.schema if isinstance(schema, vol.Schema) else schema
    for item in path:
        node = _as_dict_schema(node)
        if node is None:
            return []
        if isinstance(item, int):
            continue
        match = next((value for key, value in node.items() if str(getattr(key, "schema", key)) == item), None)
        if match is None:
            return []
        node = match.schema if isinstance(match, vol.Schema) else match
    node = _as_dict_schema(node)
    if node is None:
        return []
    return [str(getattr(key, "schema", key)) for key in node if isinstance(getattr(key, "schema", key), str)]


def _as_dict_schema(node: Any) -> dict | None:
    if isinstance(node, vol.Schema):
        node = node.schema
    if isinstance(node, dict):
        return node
    if isinstance(node, list) and len(node) == 1:
        return _as_dict_schema(node[0])
    for attribute in ("validators",):
        for inner in getattr(node, attribute, ()) or ():
            found = _as_dict_schema(inner)
            if found is not None:
                return found
    return None


def _resolve_secrets(value: Any, path: list[PathItem], resolver: SecretResolver | None, collector: _Collector) -> Any:
    """A plain copy of the document with ``!secret`` references resolved (missing ones reported)."""
    if isinstance(value, EnvRef):
        try:
            return (resolver or SecretResolver(None)).resolve_env(value)
        except SecretNotFound as exc:
            collector.add(path, str(exc))
            collector.unresolved_secrets.add(tuple(path))
            return ""
    if isinstance(value, SecretRef):
        if resolver is None:
            collector.add(path, f"secret '{value.name}' cannot be resolved here")
            collector.unresolved_secrets.add(tuple(path))
            return Secret("", value.name)
        try:
            return resolver.resolve(value)
        except SecretNotFound as exc:
            collector.add(path, str(exc))
            collector.unresolved_secrets.add(tuple(path))
            return Secret("", value.name)
    if isinstance(value, Mapping):
        return {key: _resolve_secrets(item, [*path, key], resolver, collector) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_resolve_secrets(item, [*path, index], resolver, collector) for index, item in enumerate(value)]
    return value


def validate_flow(
    document: Any,
    registry: Registry,
    *,
    source: str | None = None,
    root: Any = None,
    resolver: SecretResolver | None = None,
    external_connections: Iterable[str] = (),
) -> FlowSpec:
    """Validate a flow document (parsed YAML or JSON) completely, collecting every error.

    ``root`` is the round-trip YAML document, for positions; ``external_connections`` are connection ids
    defined outside this flow (through the REST API) that its nodes may use.
    """
    collector = _Collector(root if root is not None else document, source)
    if not isinstance(document, Mapping):
        collector.add((), "a flow file must be a mapping with the keys flowhost, id, nodes...")
        raise FlowValidationError(collector.errors)
    plain = _resolve_secrets(document, [], resolver, collector)
    top = _top_level(plain, collector)
    connections = _validate_connections(top["connections"], registry, collector)
    # Ids of connections with errors count as defined: one mistake should give one error, not a cascade.
    connection_ids = {
        item["id"] for item in top["connections"] if isinstance(item, Mapping) and isinstance(item.get("id"), str)
    } | set(external_connections)
    nodes = _validate_nodes(top["nodes"], registry, connection_ids, collector)
    layout = _validate_layout(top["layout"], collector)
    if collector.errors:
        raise FlowValidationError(sorted(collector.errors, key=lambda error: (error.line or 0, error.column or 0)))
    known = {node.id for node in nodes}
    return FlowSpec(
        id=top["id"],
        label=top.get("label") or top["id"],
        nodes=nodes,
        connections=connections,
        layout={node_id: position for node_id, position in layout.items() if node_id in known},
        description=top.get("description"),
        source=Path(source) if source else None,
    )


def _top_level(plain: Mapping[str, Any], collector: _Collector) -> dict[str, Any]:
    """The flow's own keys; when they are invalid, what can still be read of them, so that the nodes and
    connections are checked too (all errors at once)."""
    try:
        top = FLOW_SCHEMA(plain)
    except vol.Invalid as exc:
        collector.add_invalid([], exc, FLOW_SCHEMA)
        top = {key: plain.get(key) for key in ("label", "description")}
        top["id"] = plain["id"] if isinstance(plain.get("id"), str) else "?"
        for key in ("connections", "nodes"):
            top[key] = plain.get(key) if isinstance(plain.get(key), list) else []
        top["layout"] = plain.get("layout") if isinstance(plain.get("layout"), Mapping) else {}
    return {**top, "connections": top["connections"] or [], "nodes": top["nodes"] or [], "layout": top["layout"] or {}}


def _validate_layout(layout: Mapping[str, Any], collector: _Collector) -> dict[str, dict[str, float]]:
    try:
        return LAYOUT_SCHEMA(dict(layout))
    except vol.Invalid as exc:
        collector.add_invalid(["layout"], exc, LAYOUT_SCHEMA)
        return {}


def _validate_connections(items: list, registry: Registry, collector: _Collector) -> list[ConnectionSpec]:
    result, seen = [], set()
    for index, item in enumerate(items):
        path: list[PathItem] = ["connections", index]
        if isinstance(item, Mapping) and isinstance(item.get("id"), str):
            if item["id"] in seen:
                collector.add([*path, "id"], f"connection id '{item['id']}' is defined twice")
                continue
            seen.add(item["id"])
        spec = _validate_connection_entry(item, path, registry, collector, CONNECTION_SCHEMA)
        if spec is not None:
            result.append(spec)
    return result


def _validate_connection_entry(
    item: Any, path: list[PathItem], registry: Registry, collector: _Collector, schema: vol.Schema
) -> ConnectionSpec | None:
    try:
        entry = schema(item)
    except vol.Invalid as exc:
        collector.add_invalid(path, exc, schema)
        _check_configuration_alone(item, path, registry, collector)
        return None
    connection_class = registry.connection_types.get(entry["connectorId"])
    if connection_class is None:
        installed = ", ".join(sorted(registry.connection_types)) or "none"
        suggestion = closest(entry["connectorId"], registry.connection_types)
        hint = f" (did you mean '{suggestion}'?)" if suggestion else ""
        collector.add(
            [*path, "connectorId"],
            f"unknown connector '{entry['connectorId']}'{hint}; installed: {installed}",
        )
        return None
    raw = entry["configuration"] or {}
    schema = connection_class.configuration_schema(registry.templates)
    try:
        configuration = _run_plugin_schema(schema, raw)
    except vol.Invalid as exc:
        collector.add_invalid([*path, "configuration"], exc, schema)
        return None
    return ConnectionSpec(
        id=entry["id"],
        connector_id=entry["connectorId"],
        name=entry.get("name") or entry["id"],
        active=entry["active"],
        configuration=configuration,
        raw_configuration=raw,
    )


def _run_plugin_schema(schema: vol.Schema, data: Any) -> Any:
    """A plugin's schema; a validator that crashes on an unexpected value type is reported, not raised."""
    try:
        return schema(data)
    except vol.Invalid:
        raise
    except Exception as exc:
        raise vol.Invalid(
            f"cannot be checked: a validator failed with {type(exc).__name__}: {exc}; check the types of the values"
        ) from None


def _check_configuration_alone(item: Any, path: list[PathItem], registry: Registry, collector: _Collector) -> None:
    """When the entry itself is invalid, still report its configuration's errors: all errors at once."""
    if not isinstance(item, Mapping) or not isinstance(item.get("configuration"), Mapping):
        return
    connector_id = item.get("connectorId")
    connection_class = registry.connection_types.get(connector_id) if isinstance(connector_id, str) else None
    if connection_class is None:
        return
    configuration = item["configuration"]
    schema = connection_class.configuration_schema(registry.templates)
    try:
        _run_plugin_schema(schema, configuration)
    except vol.Invalid as exc:
        collector.add_invalid([*path, "configuration"], exc, schema)


def validate_connection(
    document: Any,
    registry: Registry,
    *,
    schema: vol.Schema = CONNECTION_SCHEMA,
    resolver: SecretResolver | None = None,
) -> ConnectionSpec:
    """Validate one connection entry (``id``, ``connectorId``, ``name``, ``active``, ``configuration``) with
    the same messages as in flow files; raises FlowValidationError with every error (paths from the entry)."""
    collector = _Collector(None, None)
    plain = _resolve_secrets(document, [], resolver, collector)
    spec = _validate_connection_entry(plain, [], registry, collector, schema)
    if collector.errors or spec is None:
        raise FlowValidationError(collector.errors)
    return spec


def _validate_nodes(items: list, registry: Registry, connection_ids: set[str], collector: _Collector) -> list[NodeSpec]:
    entries, seen = _node_entries(items, collector)
    classes = {entry["id"]: registry.node_types.get(entry["type"]) for _, entry in entries}
    result = []
    for index, entry in entries:
        path: list[PathItem] = ["nodes", index]
        node_class = classes[entry["id"]]
        if node_class is None:
            _unknown_node_type(entry["type"], registry.node_types, [*path, "type"], collector)
            continue
        if entry["disabled"]:
            continue  # kept in the file, never run: its config may be unfinished; wires to it carry nothing
        raw_config = entry["config"] or {}
        config = None
        try:
            config = _run_plugin_schema(node_class.config_schema, raw_config)
        except vol.Invalid as exc:
            collector.add_invalid([*path, "config"], exc, node_class.config_schema)
        _check_connection_fields(node_class, config or raw_config, connection_ids, [*path, "config"], collector)
        _check_node_fields(node_class, config or raw_config, seen, [*path, "config"], collector)
        wires = entry["wires"] or {}
        outputs = _output_ports(node_class, config, [*path, "config"], collector)
        if outputs is not None:  # else the config that names this node's ports is invalid: reported above
            _check_wires(entry["type"], wires, outputs, seen, classes, path, collector)
        if config is not None:
            result.append(NodeSpec(entry["id"], entry["type"], config, raw_config, wires, entry.get("name")))
    return result


def _node_entries(items: list, collector: _Collector) -> tuple[list[tuple[int, dict]], set[str]]:
    """The entries that pass NODE_SCHEMA (with their index), and every node id written, valid or not."""
    entries: list[tuple[int, dict]] = []
    seen: set[str] = set()
    for index, item in enumerate(items):
        path: list[PathItem] = ["nodes", index]
        try:
            entry = NODE_SCHEMA(item)
        except vol.Invalid as exc:
            collector.add_invalid(path, exc, NODE_SCHEMA)
            if isinstance(item, Mapping) and isinstance(item.get("id"), str):
                seen.add(item["id"])
            continue
        if entry["id"] in seen:
            collector.add([*path, "id"], f"node id '{entry['id']}' is used twice")
            continue
        seen.add(entry["id"])
        entries.append((index, entry))
    return entries, seen


def _unknown_node_type(name: str, types: Mapping[str, Any], path: list[PathItem], collector: _Collector) -> None:
    suggestion = closest(name, types)
    hint = f" (did you mean '{suggestion}'?)" if suggestion else ""
    collector.add(path, f"unknown node type '{name}'{hint}; installed: {', '.join(sorted(types)) or 'none'}")


def _check_connection_fields(
    node_class: type[Node], config: Mapping[str, Any], defined: set[str], path: list[PathItem], collector: _Collector
) -> None:
    """Config keys that name a connection (``Node.connection_fields``) must name one of this flow or the API's."""
    for field_name in node_class.connection_fields:
        connection_id = config.get(field_name)
        if connection_id is not None and connection_id not in defined:
            names = ", ".join(sorted(defined)) or "none"
            collector.add([*path, field_name], f"unknown connection '{connection_id}' (defined: {names})")


def _check_wires(
    node_type: str,
    wires: Mapping[str, list[str]],
    outputs: tuple[str, ...],
    known: set[str],
    classes: Mapping[str, type[Node] | None],
    path: list[PathItem],
    collector: _Collector,
) -> None:
    """Each wire leaves one of the node's outputs for a node of the flow (``known``: every id written) that has
    an input. ``classes``: the class of every valid node entry (None for an unknown type)."""
    known_ids = ", ".join(sorted(known))
    for port, targets in wires.items():
        port_path = [*path, "wires", port]
        if port not in outputs:
            ports = ", ".join(outputs) or "none"
            message = f"node type '{node_type}' has no output '{port}' (outputs: {ports})"
            collector.add(port_path, message, of_key=True)
            continue
        as_list = isinstance(_raw_at(collector.root, port_path), list)
        for target_index, target in enumerate(targets):
            target_at = [*port_path, target_index] if as_list else None
            if target not in known:
                collector.add(port_path, f"unknown node '{target}' (known: {known_ids})", at=target_at)
                continue
            target_class = classes.get(target)
            if target_class is not None and not target_class.has_input:
                collector.add(port_path, f"node '{target}' ({target_class.type}) has no input", at=target_at)


def _check_node_fields(
    node_class: type[Node], config: Mapping[str, Any], known: set[str], path: list[PathItem], collector: _Collector
) -> None:
    """Config keys that name nodes of the same flow (``Node.node_fields``) must name existing ones."""
    for field_name in node_class.node_fields:
        value = config.get(field_name)
        names = [value] if isinstance(value, str) else value if isinstance(value, list) else []
        for index, node_id in enumerate(names):
            if isinstance(node_id, str) and node_id not in known:
                at = [*path, field_name] + ([index] if isinstance(value, list) else [])
                collector.add(at, f"unknown node '{node_id}' (known: {', '.join(sorted(known))})")


def _output_ports(
    node_class: type[Node], config: Mapping[str, Any] | None, path: list[PathItem], collector: _Collector
) -> tuple[str, ...] | None:
    """The node's output ports (``Node.output_ports``), or None when they cannot be known."""
    if config is None:
        return None if node_class.has_config_outputs() else node_class.outputs
    try:
        ports = node_class.output_ports(config)
    except Exception as exc:
        collector.add(path, f"the output ports cannot be made: {type(exc).__name__}: {exc}")
        return None
    if (
        not isinstance(ports, tuple)
        or not all(isinstance(p, str) and p for p in ports)
        or len(set(ports)) != len(ports)
    ):
        collector.add(path, f"the output ports must be distinct names, got {ports!r}")
        return None
    return ports


def _raw_at(root: Any, path: Sequence[PathItem]) -> Any:
    node = root
    for item in path:
        try:
            node = node[item]
        except (KeyError, IndexError, TypeError):
            return None
    return node


def load_flow_file(
    path: Path | str,
    registry: Registry,
    *,
    environ: dict[str, str] | None = None,
    external_connections: Iterable[str] = (),
    resolver: SecretResolver | None = None,
) -> FlowSpec:
    """Read and validate a flow file; raises FlowValidationError with every error.

    ``resolver`` replaces the default one (environment, then ``secrets.yaml`` beside the file).
    """
    path = Path(path)
    root = read_flow_file(path)
    return validate_flow(
        root,
        registry,
        source=str(path),
        root=root,
        resolver=resolver or SecretResolver(path.parent, environ),
        external_connections=external_connections,
    )


def read_flow_file(path: Path) -> Any:
    """The round-trip YAML document of a flow file (comments and key order kept, for writing it back)."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise FlowValidationError([FlowError((), f"cannot read flow file: {exc}", str(path))]) from None
    return read_yaml(text, str(path))


__all__ = [
    "ConnectionSpec",
    "FlowError",
    "FlowSpec",
    "FlowValidationError",
    "NodeSpec",
    "Secret",
    "load_flow_file",
    "validate_flow",
]
