"""Flow files: YAML in, a validated FlowSpec out, every error reported as ``FILE:LINE:COL: path: message``.

The same validation serves JSON from the REST API, without positions.
"""

from __future__ import annotations

import io
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import voluptuous as vol
from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap, CommentedSeq
from ruamel.yaml.error import MarkedYAMLError, YAMLError
from ruamel.yaml.representer import RoundTripRepresenter

from .registry import Registry
from .secrets import EnvRef, Secret, SecretNotFound, SecretRef, SecretResolver
from .validation import closest, identifier

FORMAT_VERSION = 1

PathItem = str | int


@dataclass(frozen=True)
class FlowError:
    path: tuple[PathItem, ...]
    message: str
    source: str | None = None
    line: int | None = None
    column: int | None = None

    @property
    def dotted_path(self) -> str:
        return format_path(self.path)

    def __str__(self) -> str:
        location = ""
        if self.source:
            location = f"{self.source}:{self.line}:{self.column}: " if self.line else f"{self.source}: "
        path = self.dotted_path
        return f"{location}{path}: {self.message}" if path else f"{location}{self.message}"

    def as_json(self) -> dict[str, Any]:
        result: dict[str, Any] = {"path": self.dotted_path, "message": self.message}
        if self.line:
            result["line"], result["column"] = self.line, self.column
        return result


class FlowValidationError(Exception):
    def __init__(self, errors: list[FlowError]) -> None:
        super().__init__("\n".join(str(error) for error in errors))
        self.errors = errors


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


def format_path(path: Sequence[PathItem]) -> str:
    text = ""
    for item in path:
        if isinstance(item, int):
            text += f"[{item}]"
        else:
            text += f".{item}" if text else str(item)
    return text


# ---- YAML reading -------------------------------------------------------------------------------------------


class _FlowRepresenter(RoundTripRepresenter):
    """Writes references back as they were read: ``!secret NAME`` (never a value) and ``!env_var NAME``."""


def _represent_secret_ref(representer: RoundTripRepresenter, ref: SecretRef | Secret) -> Any:
    return representer.represent_scalar("!secret", ref.name)


def _represent_env_ref(representer: RoundTripRepresenter, ref: EnvRef) -> Any:
    text = f"{ref.name} {ref.default}" if ref.default is not None else ref.name
    return representer.represent_scalar("!env_var", text)


_FlowRepresenter.add_representer(SecretRef, _represent_secret_ref)
_FlowRepresenter.add_representer(Secret, _represent_secret_ref)
_FlowRepresenter.add_representer(EnvRef, _represent_env_ref)


def _yaml() -> YAML:
    yaml = YAML()  # round-trip: keeps positions (and comments, for writing back)
    yaml.Representer = _FlowRepresenter
    yaml.width = 4096  # never fold a user's long line
    yaml.constructor.add_constructor("!secret", lambda loader, node: SecretRef(loader.construct_scalar(node)))
    yaml.constructor.add_constructor("!env_var", lambda loader, node: EnvRef.parse(loader.construct_scalar(node)))
    return yaml


def read_yaml(text: str, source: str) -> Any:
    try:
        return _yaml().load(io.StringIO(text))
    except MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        problem = exc.problem or str(exc).splitlines()[0]
        if exc.context and "duplicate key" in (exc.problem or ""):
            problem = exc.problem
        line, column = (mark.line + 1, mark.column + 1) if mark else (None, None)
        raise FlowValidationError([FlowError((), f"invalid YAML: {problem}", source, line, column)]) from None
    except YAMLError as exc:  # e.g. a control character: the reader's errors carry no mark
        raise FlowValidationError([FlowError((), f"invalid YAML: {exc}", source)]) from None


YamlStyle = tuple[int, int, int]
"""Indentation: (mapping, sequence, offset of the dash), as ``YAML.indent`` takes them."""
DEFAULT_STYLE: YamlStyle = (2, 4, 2)
_STYLES: tuple[YamlStyle, ...] = (DEFAULT_STYLE, (2, 2, 0), (4, 4, 2), (4, 4, 0), (4, 6, 4), (2, 3, 1))


def dump_yaml(document: Any, style: YamlStyle = DEFAULT_STYLE) -> str:
    """YAML text of a (round-trip) document; references stay references."""
    yaml = _yaml()
    mapping, sequence, offset = style
    yaml.indent(mapping=mapping, sequence=sequence, offset=offset)
    stream = io.StringIO()
    yaml.dump(document, stream)
    return stream.getvalue()


def guess_style(text: str, document: Any) -> YamlStyle:
    """The indentation that writes ``document`` back as ``text``, so that saving changes only what changed."""
    for style in _STYLES:
        if dump_yaml(document, style) == text:
            return style
    return DEFAULT_STYLE


def update_document(old: Any, new: Any) -> Any:
    """Make the round-trip document ``old`` equal to the plain document ``new``, in place where possible, so
    that the user's comments, key order and formatting survive. Returns the updated document."""
    if isinstance(old, CommentedMap) and isinstance(new, Mapping):
        for key in [key for key in old if key not in new]:
            del old[key]
        for key, value in new.items():
            old[key] = update_document(old[key], value) if key in old else value
        return old
    if isinstance(old, CommentedSeq) and isinstance(new, list | tuple):
        by_id = {item["id"]: item for item in old if isinstance(item, CommentedMap) and isinstance(item.get("id"), str)}
        items = []
        for index, value in enumerate(new):
            previous = by_id.get(value.get("id")) if isinstance(value, Mapping) else None
            if previous is None and index < len(old) and not by_id:
                previous = old[index]
            items.append(update_document(previous, value) if previous is not None else value)
        for index, item in enumerate(items):
            if index < len(old):
                if old[index] is not item:
                    old[index] = item
            else:
                old.append(item)
        del old[len(items) :]
        return old
    if _same_scalar(old, new):
        return old  # keeps YAML's formatting of the value (quotes, 80.0 vs 80, hex...)
    return new


def _same_scalar(old: Any, new: Any) -> bool:
    if type(new) not in (str, int, float, bool) or old != new:
        return False
    if isinstance(old, bool) or isinstance(new, bool):
        return type(old) is type(new)
    return isinstance(old, type(new)) and not isinstance(old, Secret | bool)


def to_json_document(value: Any) -> Any:
    """A flow (or part of one) as plain JSON: ``!secret NAME`` -> ``{"$secret": NAME}``, ``!env_var NAME
    default`` -> ``{"$env": NAME, "default": default}``; YAML's scalar types -> plain ones."""
    if isinstance(value, SecretRef | Secret):
        return {"$secret": value.name}
    if isinstance(value, EnvRef):
        return {"$env": value.name} if value.default is None else {"$env": value.name, "default": value.default}
    if isinstance(value, Mapping):
        return {str(key): to_json_document(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [to_json_document(item) for item in value]
    if isinstance(value, bool) or value is None:
        return value
    for plain in (int, float, str):
        if isinstance(value, plain):
            return plain(value)
    return str(value)


def from_json_document(value: Any) -> Any:
    """The inverse of :func:`to_json_document`: reference objects become ``SecretRef`` / ``EnvRef``."""
    if isinstance(value, Mapping):
        if set(value) == {"$secret"} and isinstance(value["$secret"], str):
            return SecretRef(value["$secret"])
        if "$env" in value and set(value) <= {"$env", "default"} and isinstance(value["$env"], str):
            default = value.get("default")
            return EnvRef(value["$env"], None if default is None else str(default))
        return {key: from_json_document(item) for key, item in value.items()}
    if isinstance(value, list):
        return [from_json_document(item) for item in value]
    return value


def position(root: Any, path: Sequence[PathItem], *, of_key: bool = False) -> tuple[int, int] | None:
    """1-based (line, column) of the value at ``path`` (or of its key) in a round-trip-loaded document."""
    node, found = root, None
    for depth, item in enumerate(path):
        last = depth == len(path) - 1
        if isinstance(node, CommentedMap) and item in node:
            found = node.lc.key(item) if (last and of_key) else node.lc.value(item)
            node = node[item]
        elif isinstance(node, CommentedSeq) and isinstance(item, int) and 0 <= item < len(node):
            found = node.lc.item(item)
            node = node[item]
        else:
            break
    if found is None:
        return None
    return found[0] + 1, found[1] + 1


# ---- validation ---------------------------------------------------------------------------------------------


def _mapping(value: Any) -> dict:
    if not isinstance(value, Mapping):
        raise vol.Invalid("expected a mapping")
    return dict(value)


WIRES_SCHEMA = vol.Schema({str: vol.All(vol.Any([identifier], vol.All(identifier, lambda v: [v])))})

NODE_SCHEMA = vol.Schema(
    {
        vol.Required("id"): identifier,
        vol.Required("type"): str,
        vol.Optional("name"): str,
        vol.Optional("config", default=dict): vol.Any(None, _mapping),
        vol.Optional("wires", default=dict): vol.Any(None, WIRES_SCHEMA),
    }
)

CONNECTION_SCHEMA = vol.Schema(
    {
        vol.Required("id"): identifier,
        vol.Required("connectorId"): str,
        vol.Optional("name"): str,
        vol.Optional("active", default=True): bool,
        vol.Optional("configuration", default=dict): vol.Any(None, _mapping),
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
        vol.Optional("connections", default=list): vol.Any(None, [object]),
        vol.Optional("nodes", default=list): vol.Any(None, [object]),
        vol.Optional("layout", default=dict): vol.Any(None, _mapping),
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

    def add_invalid(self, prefix: Sequence[PathItem], error: vol.Invalid, schema: vol.Schema, data: Any) -> None:
        errors = error.errors if isinstance(error, vol.MultipleInvalid) else [error]
        for item in errors:
            path = [*prefix, *item.path]
            message = item.error_message
            of_key = False
            if message == "extra keys not allowed" and item.path:
                key = item.path[-1]
                valid = _keys_at(schema, list(item.path[:-1]), data)
                suggestion = closest(str(key), valid) if valid else None
                message = f"unknown key '{key}'" + (f" (did you mean '{suggestion}'?)" if suggestion else "")
                if valid:
                    message += f"; valid keys: {', '.join(sorted(valid))}"
                of_key = True
            elif message == "required key not provided":
                message = "required key not provided"
            elif message.startswith("expected ") and " for dictionary value" in message:
                message = message.replace(" for dictionary value", "")
            self.add(path, message, of_key=of_key)


def _keys_at(schema: vol.Schema, path: list[PathItem], data: Any) -> list[str]:
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
    try:
        top = FLOW_SCHEMA(plain)
    except vol.Invalid as exc:
        collector.add_invalid([], exc, FLOW_SCHEMA, plain)
        top = {key: plain.get(key) for key in ("id", "label", "description", "connections", "nodes", "layout")}
        top["id"] = top["id"] if isinstance(top["id"], str) else "?"
        for key in ("connections", "nodes"):
            top[key] = top[key] if isinstance(top[key], list) else []
        top["layout"] = top["layout"] if isinstance(top["layout"], Mapping) else {}

    connections = _validate_connections(top.get("connections") or [], registry, collector)
    # Ids of connections with errors count as defined: one mistake should give one error, not a cascade.
    connection_ids = {
        item["id"]
        for item in top.get("connections") or []
        if isinstance(item, Mapping) and isinstance(item.get("id"), str)
    } | set(external_connections)
    nodes = _validate_nodes(top.get("nodes") or [], registry, connection_ids, collector)

    layout: dict[str, dict[str, float]] = {}
    try:
        layout = LAYOUT_SCHEMA(dict(top.get("layout") or {}))
    except vol.Invalid as exc:
        collector.add_invalid(["layout"], exc, LAYOUT_SCHEMA, top.get("layout"))

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
        collector.add_invalid(path, exc, schema, item)
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
        collector.add_invalid([*path, "configuration"], exc, schema, raw)
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
        collector.add_invalid([*path, "configuration"], exc, schema, configuration)


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
    entries: list[tuple[int, dict]] = []
    seen: set[str] = set()
    for index, item in enumerate(items):
        path: list[PathItem] = ["nodes", index]
        try:
            entry = NODE_SCHEMA(item)
        except vol.Invalid as exc:
            collector.add_invalid(path, exc, NODE_SCHEMA, item)
            if isinstance(item, Mapping) and isinstance(item.get("id"), str):
                seen.add(item["id"])
            continue
        if entry["id"] in seen:
            collector.add([*path, "id"], f"node id '{entry['id']}' is used twice")
            continue
        seen.add(entry["id"])
        entries.append((index, entry))

    known_ids = ", ".join(sorted(seen))
    types = registry.node_types
    result = []
    for index, entry in entries:
        path = ["nodes", index]
        node_class = types.get(entry["type"])
        if node_class is None:
            suggestion = closest(entry["type"], types)
            hint = f" (did you mean '{suggestion}'?)" if suggestion else ""
            collector.add(
                [*path, "type"],
                f"unknown node type '{entry['type']}'{hint}; installed: {', '.join(sorted(types)) or 'none'}",
            )
            continue
        raw_config = entry["config"] or {}
        config = None
        try:
            config = _run_plugin_schema(node_class.config_schema, raw_config)
        except vol.Invalid as exc:
            collector.add_invalid([*path, "config"], exc, node_class.config_schema, raw_config)
        for field_name in node_class.connection_fields:
            connection_id = (config or raw_config).get(field_name)
            if connection_id is not None and connection_id not in connection_ids:
                defined = ", ".join(sorted(connection_ids)) or "none"
                collector.add(
                    [*path, "config", field_name],
                    f"unknown connection '{connection_id}' (defined: {defined})",
                )
        wires = entry["wires"] or {}
        for port, targets in wires.items():
            port_path = [*path, "wires", port]
            if port not in node_class.outputs:
                ports = ", ".join(node_class.outputs) or "none"
                collector.add(
                    port_path,
                    f"node type '{entry['type']}' has no output '{port}' (outputs: {ports})",
                    of_key=True,
                )
                continue
            for target_index, target in enumerate(targets):
                target_at = [*port_path, target_index] if isinstance(_raw_at(collector.root, port_path), list) else None
                if target not in seen:
                    collector.add(port_path, f"unknown node '{target}' (known: {known_ids})", at=target_at)
                else:
                    target_entry = next((e for _, e in entries if e["id"] == target), None)
                    target_class = types.get(target_entry["type"]) if target_entry else None
                    if target_class is not None and not target_class.has_input:
                        collector.add(port_path, f"node '{target}' ({target_class.type}) has no input", at=target_at)
        if config is not None:
            result.append(NodeSpec(entry["id"], entry["type"], config, raw_config, wires, entry.get("name")))
    return result


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
