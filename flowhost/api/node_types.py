"""``/api/node-types``: what the editor builds its palette and forms from, and nothing else."""

from __future__ import annotations

import inspect
from typing import Any

from aiohttp import web

from .. import keys
from ..registry import Registry
from .forms import form_fields
from .responses import json_response


def describe_types(registry: Registry) -> dict[str, list[dict[str, Any]]]:
    nodes = [
        {
            "type": type_name,
            "category": node_class.category,
            "description": node_class.description,
            "help": _own_docstring(node_class),
            "inputs": 1 if node_class.has_input else 0,
            "outputs": list(node_class.outputs),
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
