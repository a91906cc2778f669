"""``/api/node-types``: what the editor builds its palette and forms from, and nothing else."""

from __future__ import annotations

import inspect
from typing import Any

import voluptuous as vol
from aiohttp import web

from .. import keys
from ..registry import Registry
from ..workspace import Invalid, NotFound
from .forms import form_fields
from .responses import json_response, read_json


def describe_types(registry: Registry) -> dict[str, list[dict[str, Any]]]:
    nodes = [
        {
            "type": type_name,
            "category": node_class.category,
            "description": node_class.description,
            "help": _own_docstring(node_class),
            "inputs": 1 if node_class.has_input else 0,
            "outputs": list(node_class.outputs),
            "outputsFromConfig": node_class.has_config_outputs(),
            "triggerable": node_class.can_trigger(),
            "connectionFields": list(node_class.connection_fields),
            "secretFields": sorted(node_class.secret_fields),
            "fields": form_fields(
                node_class.config_schema,
                connection_fields=node_class.connection_fields,
                secret_fields=node_class.secret_fields,
                labels=node_class.form_labels,
            ),
            "plugin": registry.provided_by.get(f"node:{type_name}"),
        }
        for type_name, node_class in sorted(registry.node_types.items())
    ]
    connections = [
        {
            "connectorId": connector_id,
            "description": connection_class.description,
            "secretFields": sorted(connection_class.secret_fields),
            "fields": form_fields(
                connection_class.config_schema,
                secret_fields=connection_class.secret_fields,
                labels=connection_class.form_labels,
            ),
            "plugin": registry.provided_by.get(f"connection:{connector_id}"),
        }
        for connector_id, connection_class in sorted(registry.connection_types.items())
    ]
    return {"nodeTypes": nodes, "connectionTypes": connections}


def _own_docstring(cls: type) -> str | None:
    """The class' own docstring for the editor's help pane (not one inherited from ``Node``)."""
    doc = cls.__dict__.get("__doc__")
    return inspect.cleandoc(doc) if isinstance(doc, str) and doc.strip() else None


async def list_node_types(request: web.Request) -> web.Response:
    return json_response(describe_types(request.app[keys.RUNTIME].registry))


def _path_text(path: list) -> str:
    return "config" + "".join(f"[{item}]" if isinstance(item, int) else f".{item}" for item in path)


async def node_outputs(request: web.Request) -> web.Response:
    """The output ports a node of this type would have with the config in the body (``switch``: one per rule),
    so that the editor can draw them before deploying; 400 with every error of an invalid config."""
    registry = request.app[keys.RUNTIME].registry
    type_name = request.match_info["type"]
    node_class = registry.node_types.get(type_name)
    if node_class is None:
        raise NotFound.one(f"no node type '{type_name}'")
    config = await read_json(request)
    try:
        validated = node_class.config_schema(config if config is not None else {})
        outputs = node_class.output_ports(validated)
    except vol.Invalid as exc:
        errors = exc.errors if isinstance(exc, vol.MultipleInvalid) else [exc]
        raise Invalid([{"path": _path_text(error.path), "message": error.error_message} for error in errors]) from None
    except Exception as exc:  # a plugin's validator or output_ports failing on odd input
        raise Invalid.one(f"config cannot be checked: {type(exc).__name__}: {exc}", "config") from None
    return json_response({"outputs": list(outputs)})
