"""The schemas of ``/api/openapi.json`` (its ``components``): connections and flows from the registry's types,
with the same form fields that validate requests, and the fixed shapes of the other answers."""

from __future__ import annotations

from typing import Any

from ..registry import Registry
from .forms import fields_json_schema, form_fields

STRING = {"type": "string"}
ANY_OBJECT = {"type": "object"}


def ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


def object_schema(properties: dict[str, Any], **more: Any) -> dict[str, Any]:
    """``{"type": "object", "properties": ...}``, then ``more`` (``required``...)."""
    return {"type": "object", "properties": properties, **more}


def array_of(items: dict[str, Any]) -> dict[str, Any]:
    return {"type": "array", "items": items}


_ERRORS = object_schema({"errors": array_of(object_schema({"path": STRING, "message": STRING}))})
_REFERENCE = {
    "oneOf": [
        object_schema({"$secret": STRING}, required=["$secret"]),
        object_schema({"$env": STRING, "default": STRING}, required=["$env"]),
    ]
}
_CONNECTION_STATE = object_schema(
    {
        "state": STRING,
        "lastError": {"type": ["string", "null"]},
        "counters": ANY_OBJECT,
        "definedBy": ANY_OBJECT,
        "readOnly": {"type": "boolean"},
    }
)
_DEAD_LETTER = object_schema(
    {
        "id": {"type": "integer"},
        "time": {"type": "string", "format": "date-time"},
        "topic": STRING,
        "payload": {"type": "string", "contentEncoding": "base64"},
        "payloadBytes": {"type": "integer"},
        "reason": STRING,
        "reasonCode": {"type": ["integer", "null"], "description": "the broker's MQTT 5 reason code"},
    }
)
_HEALTH = {
    "type": "object",
    "required": ["live", "ready"],
    "additionalProperties": False,
    "properties": {"live": {"const": True}, "ready": {"type": "boolean"}},
}
_VALIDATION = object_schema({"valid": {"type": "boolean"}, "errors": array_of(ANY_OBJECT)})
_STATUS_FLOW = object_schema(
    {
        "id": STRING,
        "label": {"type": ["string", "null"]},
        "file": STRING,
        "origin": {"enum": ["command-line", "api", "demo"]},
        "deployed": {"type": "boolean"},
        "nodes": {"type": "integer"},
        "errors": {"type": "integer", "description": "errors the flow's nodes counted since they started"},
    }
)
_STATUS_CONNECTION = object_schema(
    {
        "id": STRING,
        "connectorId": STRING,
        "state": STRING,
        "lastError": {"type": ["string", "null"]},
        "outbox": {"type": ["integer", "null"], "description": "uplinks waiting; null: the type has no outbox"},
    }
)
_STATUS = object_schema(
    {
        "version": STRING,
        "ready": {"type": "boolean"},
        "flows": array_of(_STATUS_FLOW),
        "connections": array_of(_STATUS_CONNECTION),
    }
)
SECURITY_SCHEMES = {
    "bearer": {"type": "http", "scheme": "bearer"},
    "cookie": {"type": "apiKey", "in": "cookie", "name": "flowhost-token-<port>"},
}


def components(registry: Registry) -> dict[str, Any]:
    connection_body = _connection_body(registry)
    return {
        "securitySchemes": SECURITY_SCHEMES,
        "schemas": {
            "Errors": _ERRORS,
            "Reference": _REFERENCE,
            "ConnectionBody": connection_body,
            "Connection": {"allOf": [connection_body, _CONNECTION_STATE]},
            "Flow": _flow(registry, connection_body),
            "DeadLetter": _DEAD_LETTER,
            "FlowSummary": ANY_OBJECT,
            "Health": _HEALTH,
            "Status": _STATUS,
            "Validation": _VALIDATION,
        },
    }


def _connection_body(registry: Registry) -> dict[str, Any]:
    configurations = [
        {"title": connector_id, **fields_json_schema(form_fields(cls.config_schema, secret_fields=cls.secret_fields))}
        for connector_id, cls in sorted(registry.connection_types.items())
    ]
    return {
        "type": "object",
        "required": ["connectorId", "name", "configuration"],
        "properties": {
            "id": {"type": "string", "description": "optional; generated from the name when left out"},
            "connectorId": {"enum": sorted(registry.connection_types)},
            "name": STRING,
            "active": {"type": "boolean", "default": True},
            "configuration": {"anyOf": configurations},
        },
    }


def _flow(registry: Registry, connection_body: dict[str, Any]) -> dict[str, Any]:
    return {
        "type": "object",
        "required": ["flowhost", "id"],
        "properties": {
            "flowhost": {"const": 1},
            "id": STRING,
            "rev": {"type": "string", "description": "required by PUT: the rev the change is based on"},
            "label": STRING,
            "description": STRING,
            "connections": array_of(connection_body),
            "nodes": array_of({"allOf": [_node(registry), {"anyOf": _node_configs(registry)}]}),
            "layout": ANY_OBJECT,
        },
    }


def _node(registry: Registry) -> dict[str, Any]:
    return {
        "type": "object",
        "required": ["id", "type"],
        "properties": {
            "id": STRING,
            "type": {"enum": sorted(registry.node_types)},
            "name": STRING,
            "disabled": {"type": "boolean", "description": "kept, never run"},
            "wires": {"type": "object", "additionalProperties": array_of(STRING)},
        },
    }


def _node_configs(registry: Registry) -> list[dict[str, Any]]:
    return [
        {
            "title": type_name,
            **object_schema(
                {
                    "type": {"const": type_name},
                    "config": fields_json_schema(
                        form_fields(cls.config_schema, connection_fields=cls.connection_fields)
                    ),
                }
            ),
        }
        for type_name, cls in sorted(registry.node_types.items())
    ]
