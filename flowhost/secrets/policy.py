"""Which values of a connection or a flow are secret, how the API shows them, and how new ones are kept.

A connection type's and a node type's ``secret_fields`` name the secret keys of a connection's
``configuration`` and of a node's ``config``. The API shows them as ``********``; sending that back keeps what
was stored; a new value becomes a pending secret, stored encrypted once the whole change is valid, and the
document gets ``{"$secret": name}`` in its place. Everything here works on documents in JSON form
(``flow_yaml.to_json_document``), so it needs no YAML.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ..registry import Registry

MASK = "********"
"""What a secret field shows in the API; sending it back keeps the stored secret."""


@dataclass(frozen=True)
class _Section:
    """One list of a flow document whose items may hold secrets: its connections, or its nodes."""

    items: str
    values: str
    """The key of an item's mapping with the secret fields."""
    type_key: str
    types: str
    """The registry's table of the item's types."""
    name_part: tuple[str, ...]
    """Added between the flow id and the item id in a stored secret's name."""


_SECTIONS = (
    _Section("connections", "configuration", "connectorId", "connection_types", ()),
    _Section("nodes", "config", "type", "node_types", ("node",)),
)


@dataclass
class Protected:
    """A document with its new secret values replaced by references; ``pending``: those values by name."""

    document: dict[str, Any]
    pending: dict[str, str] = field(default_factory=dict)
    errors: list[dict[str, Any]] = field(default_factory=list)


def secret_name(*parts: str) -> str:
    """A ``!secret`` name that is also valid in ``FLOWHOST_SECRET_<NAME>``."""
    return re.sub(r"[^A-Za-z0-9_]", "_", "_".join(parts))


def referenced_secrets(document: Any) -> set[str]:
    """Every ``!secret`` name a document (JSON form) refers to."""
    if isinstance(document, Mapping):
        if set(document) == {"$secret"} and isinstance(document["$secret"], str):
            return {document["$secret"]}
        return set().union(*(referenced_secrets(value) for value in document.values()))
    if isinstance(document, list):
        return set().union(*(referenced_secrets(value) for value in document))
    return set()


def own_flow_secrets(flow_id: str, document: Any) -> set[str]:
    """The secrets the API stored for this flow's values (named after it) that its document (JSON form) refers to."""
    prefix = secret_name(flow_id) + "_"
    return {name for name in referenced_secrets(document) if name.startswith(prefix)}


def mask_fields(values: Mapping[str, Any], secret_fields: frozenset[str], only_values: bool) -> dict[str, Any]:
    """``only_values``: ``{"$secret"}`` / ``{"$env"}`` references are shown, values never."""
    return {
        key: MASK if key in secret_fields and not (only_values and isinstance(value, Mapping)) else value
        for key, value in values.items()
    }


def _by_id(items: Any) -> dict[str, Mapping[str, Any]]:
    return {
        item["id"]: item
        for item in (items if isinstance(items, list) else [])
        if isinstance(item, Mapping) and isinstance(item.get("id"), str)
    }


def _item_id(item: Mapping[str, Any], index: int) -> str:
    return item["id"] if isinstance(item.get("id"), str) else str(index)


class SecretPolicy:
    """The secret fields of the registry's connection and node types, applied to documents."""

    def __init__(self, registry: Registry) -> None:
        self.registry = registry

    def fields(self, types: str, type_name: Any) -> frozenset[str]:
        """The ``secret_fields`` of the type ``type_name`` in the registry's ``types`` table, if it has any."""
        known = getattr(self.registry, types).get(type_name) if isinstance(type_name, str) else None
        return known.secret_fields if known is not None else frozenset()

    def connection_fields(self, connector_id: Any) -> frozenset[str]:
        return self.fields("connection_types", connector_id)

    # -- showing -------------------------------------------------------------------------------------------
    def mask_connection(self, connector_id: Any, configuration: Mapping[str, Any]) -> dict[str, Any]:
        return mask_fields(configuration, self.connection_fields(connector_id), only_values=False)

    def mask_flow(self, document: dict[str, Any], *, only_values: bool = False) -> dict[str, Any]:
        """Secret fields of the flow's connections and nodes masked (``only_values``: references are kept)."""
        for section in _SECTIONS:
            items = document.get(section.items)
            if isinstance(items, list):
                document[section.items] = [self._mask_item(section, item, only_values) for item in items]
        return document

    def _mask_item(self, section: _Section, item: Any, only_values: bool) -> Any:
        if not (isinstance(item, dict) and isinstance(item.get(section.values), dict)):
            return item
        fields = self.fields(section.types, item.get(section.type_key))
        return {**item, section.values: mask_fields(item[section.values], fields, only_values)}

    # -- keeping -------------------------------------------------------------------------------------------
    def protect_connection(
        self, body: dict[str, Any], previous: Mapping[str, Any] | None, connection_id: str
    ) -> Protected:
        """An API connection's body with its secret values as references named after the connection."""
        return protect(
            body,
            previous,
            lambda name: secret_name("connection", connection_id, name),
            path="configuration",
            key="configuration",
            secret_fields=self.connection_fields(body.get("connectorId")),
        )

    def protect_flow(self, body: dict[str, Any], previous: Mapping[str, Any], flow_id: str) -> Protected:
        """A flow's body (JSON form) with its connections' and nodes' secret values as references named after
        the flow; ``previous``: the flow as it is stored (JSON form), whose values ``********`` keeps."""
        result = Protected(dict(body))
        for section in _SECTIONS:
            items = body.get(section.items)
            if isinstance(items, list):
                old = _by_id(previous.get(section.items))
                result.document[section.items] = [
                    self._protect_item(section, index, item, old, flow_id, result) for index, item in enumerate(items)
                ]
        return result

    def _protect_item(
        self,
        section: _Section,
        index: int,
        item: Any,
        old: Mapping[str, Mapping[str, Any]],
        flow_id: str,
        result: Protected,
    ) -> Any:
        fields = self.fields(section.types, item.get(section.type_key)) if isinstance(item, dict) else frozenset()
        if not fields:
            return item
        item_id = _item_id(item, index)
        protected = protect(
            item,
            old.get(item_id),
            lambda name: secret_name(flow_id, *section.name_part, item_id, name),
            path=f"{section.items}[{index}].{section.values}",
            key=section.values,
            secret_fields=fields,
        )
        if protected.errors:  # the item as it came: the change is refused, with these errors and the schema's
            result.errors.extend(protected.errors)
            return item
        result.pending.update(protected.pending)
        return protected.document

    def own_connection_secrets(self, connection_id: str, document: Mapping[str, Any]) -> set[str]:
        """The secrets an API connection's values were stored under (not other secrets it refers to)."""
        fields = self.connection_fields(document.get("connectorId"))
        own = {secret_name("connection", connection_id, name) for name in fields}
        return configuration_secrets(document) & own


def configuration_secrets(document: Mapping[str, Any]) -> set[str]:
    """The secrets a connection's configuration refers to, field by field."""
    configuration = document.get("configuration")
    if not isinstance(configuration, Mapping):
        return set()
    return {
        value["$secret"]
        for value in configuration.values()
        if isinstance(value, Mapping) and isinstance(value.get("$secret"), str)
    }


def protect(
    entry: dict[str, Any],
    previous: Mapping[str, Any] | None,
    name_for: Callable[[str], str],
    *,
    path: str,
    key: str,
    secret_fields: frozenset[str],
) -> Protected:
    """Replace the secret fields' values in ``entry[key]`` (a connection's configuration or a node's config) by
    ``{"$secret": name}``.

    ``********`` keeps the previous entry's value (JSON form); a new value becomes a pending secret (stored only
    when the whole change is valid). A ``********`` with nothing stored is an error.
    """
    values = entry.get(key)
    if not isinstance(values, Mapping):
        return Protected(entry)
    previous_values = (previous or {}).get(key) or {}
    values = dict(values)
    result = Protected({**entry, key: values})
    for field_name in secret_fields:
        value = values.get(field_name)
        if value == MASK:
            if field_name in previous_values:
                values[field_name] = previous_values[field_name]
            else:
                result.errors.append(
                    {
                        "path": f"{path}.{field_name}",
                        "message": f"'{MASK}' stands for the stored {field_name}, but none is stored; give the value",
                    }
                )
        elif isinstance(value, str):
            name = name_for(field_name)
            result.pending[name] = value
            values[field_name] = {"$secret": name}
    return result
