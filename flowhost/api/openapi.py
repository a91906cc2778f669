"""``/api/openapi.json``: an OpenAPI 3.1 description built from the same schemas that validate requests."""

from __future__ import annotations

import inspect
import re
from typing import Any

from aiohttp import web

from .. import __version__, keys
from ..registry import Registry
from .forms import fields_json_schema, form_fields
from .responses import json_response

ERRORS = {"$ref": "#/components/schemas/Errors"}
JSON = "application/json"


def _ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


def _body(schema: dict[str, Any], content_type: str = JSON) -> dict[str, Any]:
    return {"required": True, "content": {content_type: {"schema": schema}}}


def _responses(ok: int, schema: dict[str, Any] | None, *errors: int, description: str = "") -> dict[str, Any]:
    responses: dict[str, Any] = {
        str(ok): {"description": description or "done"}
        if schema is None
        else {"description": description or "done", "content": {JSON: {"schema": schema}}},
        "401": {"description": "no or wrong token", "content": {JSON: {"schema": ERRORS}}},
        "421": {
            "description": "a Host that is not this server's (see --allowed-hosts)",
            "content": {JSON: {"schema": ERRORS}},
        },
    }
    texts = {400: "invalid: every error at once", 404: "no such resource", 409: "conflict (see the message)"}
    for status in errors:
        responses[str(status)] = {"description": texts[status], "content": {JSON: {"schema": ERRORS}}}
    return responses


def _operations() -> dict[str, dict[str, Any]]:
    """``"METHOD path"`` -> operation; every route of routes.py has one (a test checks)."""
    connection, flow = _ref("Connection"), _ref("Flow")
    return {
        "GET /api/connections": {
            "summary": "Every connection (the API's and the flows'), secrets masked, with state and counters",
            "responses": _responses(
                200, {"type": "object", "properties": {"connections": {"type": "array", "items": connection}}}
            ),
        },
        "POST /api/connections": {
            "summary": "Create and start a connection (ThingPark's body)",
            "requestBody": _body(_ref("ConnectionBody")),
            "responses": _responses(201, connection, 400, 409, description="created; Location names it"),
        },
        "GET /api/connections/{id}": {"summary": "One connection", "responses": _responses(200, connection, 404)},
        "PUT /api/connections/{id}": {
            "summary": "Replace the whole connection; the running one restarts with it, with the nodes using it",
            "requestBody": _body(_ref("ConnectionBody")),
            "responses": _responses(200, connection, 400, 404, 409),
        },
        "DELETE /api/connections/{id}": {
            "summary": "Stop and delete a connection; 409 while a flow uses it",
            "responses": _responses(204, None, 404, 409),
        },
        **_dead_letter_operations(),
        "GET /api/flows": {
            "summary": "Every flow, in short",
            "responses": _responses(
                200, {"type": "object", "properties": {"flows": {"type": "array", "items": _ref("FlowSummary")}}}
            ),
        },
        "POST /api/flows": {
            "summary": "Create and deploy a flow; written to <data-dir>/flows/<id>.yaml",
            "requestBody": _body(flow),
            "responses": _responses(201, flow, 400, 409),
        },
        "POST /api/flows/import": {
            "summary": "Create and deploy a flow from flow-file YAML (comments are kept)",
            "requestBody": _body({"type": "string"}, "text/yaml"),
            "responses": _responses(201, flow, 400, 409),
        },
        "POST /api/flows/validate": {
            "summary": "Every error of a new flow, without deploying",
            "requestBody": _body(flow),
            "responses": _responses(200, _ref("Validation")),
        },
        "GET /api/flows/{id}": {"summary": "One flow, with its rev", "responses": _responses(200, flow, 404)},
        "PUT /api/flows/{id}": {
            "summary": "Validate and deploy a changed flow (only changed nodes restart); give the rev you changed",
            "requestBody": _body(flow),
            "responses": _responses(200, flow, 400, 404, 409),
        },
        "DELETE /api/flows/{id}": {
            "summary": "Stop and delete a flow; 409 for flows given on the command line",
            "responses": _responses(204, None, 404, 409),
        },
        "POST /api/flows/{id}/validate": {
            "summary": "Every error of a changed flow, without deploying",
            "requestBody": _body(flow),
            "responses": _responses(200, _ref("Validation"), 404),
        },
        "GET /api/flows/{id}/yaml": {
            "summary": "The flow file (secrets written in it as text are masked)",
            "responses": {"200": {"description": "YAML", "content": {"text/yaml": {"schema": {"type": "string"}}}}},
        },
        "GET /api/flows/{id}/status": {
            "summary": "Each node's status, counters and queue",
            "responses": _responses(200, {"type": "object"}, 404),
        },
        "POST /api/flows/{id}/nodes/{node}/inject": {
            "summary": "Trigger a running node by hand (inject sends its message); 409 for a type that cannot be",
            "responses": _responses(204, None, 404, 409, description="triggered"),
        },
        **_context_operations(),
        "GET /api/node-types": {
            "summary": "Node and connection types with their form fields",
            "responses": _responses(200, {"type": "object"}),
        },
        "POST /api/node-types/{type}/outputs": {
            "summary": "The output ports a node of this type has with the config given (switch: one per rule)",
            "requestBody": _body({"type": "object"}),
            "responses": _responses(
                200,
                {"type": "object", "properties": {"outputs": {"type": "array", "items": {"type": "string"}}}},
                400,
                404,
            ),
        },
        "GET /api/openapi.json": {"summary": "This description", "responses": _responses(200, {"type": "object"})},
        "GET /api/metrics": {
            "summary": "Node and connection counters, connection states and process figures for Prometheus",
            "responses": {
                "200": {
                    "description": "Prometheus text format",
                    "content": {"text/plain": {"schema": {"type": "string"}}},
                },
                "401": {"description": "no or wrong token"},
            },
        },
        "GET /api/status": {
            "summary": "Each flow (deployed, its file and why it runs), each connection's state and outbox length",
            "responses": _responses(200, _ref("Status")),
        },
        "GET /healthz": {
            "summary": "Liveness and readiness for orchestrators; no token, and nothing else is told",
            "security": [],
            "responses": {
                "200": {"description": "ready: the flows run", "content": {JSON: {"schema": _ref("Health")}}},
                "503": {
                    "description": "live but not ready (starting or stopping)",
                    "content": {JSON: {"schema": _ref("Health")}},
                },
            },
        },
        "GET /api/events": {
            "summary": "WebSocket of runtime events (JSON text frames) and a counters event every second",
            "responses": {
                "101": {"description": "switching to WebSocket"},
                "401": {"description": "no or wrong token"},
            },
        },
    }


def _context_operations() -> dict[str, dict[str, Any]]:
    context = {
        "type": "object",
        "properties": {
            "scope": {"enum": ["global", "flow", "node"]},
            "values": {"type": "object", "description": "every key of the scope with its JSON value"},
        },
        "required": ["scope", "values"],
    }
    return {
        "GET /api/context/global": {
            "summary": "The global context: state every node may share (NodeContext.store('global'))",
            "responses": _responses(200, context, 409),
        },
        "GET /api/flows/{id}/context": {
            "summary": "The flow's context: state its nodes share (NodeContext.store('flow'))",
            "responses": _responses(200, context, 404, 409),
        },
        "GET /api/flows/{id}/nodes/{node}/context": {
            "summary": "One node's own context (NodeContext.store('node')): device-watchdog's devices, for one",
            "responses": _responses(200, context, 404, 409),
        },
    }


def _dead_letter_operations() -> dict[str, dict[str, Any]]:
    path = "/api/connections/{id}/dead-letters"
    page = {
        "type": "object",
        "properties": {
            "deadLetters": {"type": "array", "items": _ref("DeadLetter")},
            "next": {"type": ["integer", "null"], "description": "give it as 'after' for the next page"},
        },
    }
    ids = {
        "required": False,
        "description": "the letters to act on; no body: every letter",
        "content": {JSON: {"schema": {"type": "object", "properties": {"ids": {"type": "array"}}}}},
    }
    query = [
        {"name": "limit", "in": "query", "schema": {"type": "integer", "minimum": 1, "maximum": 1000, "default": 100}},
        {"name": "after", "in": "query", "schema": {"type": "integer", "minimum": 0}},
    ]
    return {
        f"GET {path}": {
            "summary": "Uplinks the broker refused or that can never be published, oldest first (409: this type "
            "keeps none)",
            "parameters": query,
            "responses": _responses(200, page, 400, 404, 409),
        },
        f"POST {path}/replay": {
            "summary": "Publish dead letters again (after the ACL was fixed): they go back to the outbox",
            "requestBody": ids,
            "responses": _responses(200, {"type": "object"}, 400, 404, 409),
        },
        f"DELETE {path}": {
            "summary": "Delete dead letters: those of the body's ids, or all of them",
            "requestBody": ids,
            "responses": _responses(200, {"type": "object"}, 400, 404, 409),
        },
        f"DELETE {path}/{{letter}}": {
            "summary": "Delete one dead letter",
            "responses": _responses(204, None, 404, 409),
        },
    }


def _components(registry: Registry) -> dict[str, Any]:
    configurations = [
        {
            "title": connector_id,
            **fields_json_schema(form_fields(cls.config_schema, secret_fields=cls.secret_fields)),
        }
        for connector_id, cls in sorted(registry.connection_types.items())
    ]
    node_configs = [
        {
            "title": type_name,
            "type": "object",
            "properties": {
                "type": {"const": type_name},
                "config": fields_json_schema(form_fields(cls.config_schema, connection_fields=cls.connection_fields)),
            },
        }
        for type_name, cls in sorted(registry.node_types.items())
    ]
    reference = {
        "oneOf": [
            {"type": "object", "properties": {"$secret": {"type": "string"}}, "required": ["$secret"]},
            {
                "type": "object",
                "properties": {"$env": {"type": "string"}, "default": {"type": "string"}},
                "required": ["$env"],
            },
        ]
    }
    connection_body = {
        "type": "object",
        "required": ["connectorId", "name", "configuration"],
        "properties": {
            "id": {"type": "string", "description": "optional; generated from the name when left out"},
            "connectorId": {"enum": sorted(registry.connection_types)},
            "name": {"type": "string"},
            "active": {"type": "boolean", "default": True},
            "configuration": {"anyOf": configurations},
        },
    }
    return {
        "securitySchemes": {
            "bearer": {"type": "http", "scheme": "bearer"},
            "cookie": {"type": "apiKey", "in": "cookie", "name": "flowhost-token-<port>"},
        },
        "schemas": {
            "Errors": {
                "type": "object",
                "properties": {
                    "errors": {
                        "type": "array",
                        "items": {
                            "type": "object",
                            "properties": {"path": {"type": "string"}, "message": {"type": "string"}},
                        },
                    }
                },
            },
            "Reference": reference,
            "ConnectionBody": connection_body,
            "Connection": {
                "allOf": [
                    connection_body,
                    {
                        "type": "object",
                        "properties": {
                            "state": {"type": "string"},
                            "lastError": {"type": ["string", "null"]},
                            "counters": {"type": "object"},
                            "definedBy": {"type": "object"},
                            "readOnly": {"type": "boolean"},
                        },
                    },
                ]
            },
            "Flow": {
                "type": "object",
                "required": ["flowhost", "id"],
                "properties": {
                    "flowhost": {"const": 1},
                    "id": {"type": "string"},
                    "rev": {"type": "string", "description": "required by PUT: the rev the change is based on"},
                    "label": {"type": "string"},
                    "description": {"type": "string"},
                    "connections": {"type": "array", "items": connection_body},
                    "nodes": {
                        "type": "array",
                        "items": {
                            "allOf": [
                                {
                                    "type": "object",
                                    "required": ["id", "type"],
                                    "properties": {
                                        "id": {"type": "string"},
                                        "type": {"enum": sorted(registry.node_types)},
                                        "name": {"type": "string"},
                                        "disabled": {"type": "boolean", "description": "kept, never run"},
                                        "wires": {
                                            "type": "object",
                                            "additionalProperties": {"type": "array", "items": {"type": "string"}},
                                        },
                                    },
                                },
                                {"anyOf": node_configs},
                            ]
                        },
                    },
                    "layout": {"type": "object"},
                },
            },
            "DeadLetter": {
                "type": "object",
                "properties": {
                    "id": {"type": "integer"},
                    "time": {"type": "string", "format": "date-time"},
                    "topic": {"type": "string"},
                    "payload": {"type": "string", "contentEncoding": "base64"},
                    "payloadBytes": {"type": "integer"},
                    "reason": {"type": "string"},
                    "reasonCode": {"type": ["integer", "null"], "description": "the broker's MQTT 5 reason code"},
                },
            },
            "FlowSummary": {"type": "object"},
            "Health": {
                "type": "object",
                "required": ["live", "ready"],
                "additionalProperties": False,
                "properties": {"live": {"const": True}, "ready": {"type": "boolean"}},
            },
            "Status": _status_schema(),
            "Validation": {
                "type": "object",
                "properties": {"valid": {"type": "boolean"}, "errors": {"type": "array", "items": {"type": "object"}}},
            },
        },
    }


def _status_schema() -> dict[str, Any]:
    flow = {
        "type": "object",
        "properties": {
            "id": {"type": "string"},
            "label": {"type": ["string", "null"]},
            "file": {"type": "string"},
            "origin": {"enum": ["command-line", "api", "demo"]},
            "deployed": {"type": "boolean"},
            "nodes": {"type": "integer"},
            "errors": {"type": "integer", "description": "errors the flow's nodes counted since they started"},
        },
    }
    connection = {
        "type": "object",
        "properties": {
            "id": {"type": "string"},
            "connectorId": {"type": "string"},
            "state": {"type": "string"},
            "lastError": {"type": ["string", "null"]},
            "outbox": {"type": ["integer", "null"], "description": "uplinks waiting; null: the type has no outbox"},
        },
    }
    return {
        "type": "object",
        "properties": {
            "version": {"type": "string"},
            "ready": {"type": "boolean"},
            "flows": {"type": "array", "items": flow},
            "connections": {"type": "array", "items": connection},
        },
    }


def describe(app: web.Application) -> dict[str, Any]:
    operations = _operations()
    paths: dict[str, dict[str, Any]] = {}
    for route in app.router.routes():
        path = route.resource.canonical if route.resource is not None else ""
        key = f"{route.method} {path}"
        if key in operations:
            operation = dict(operations[key])
        elif (path == "/api" or path.startswith("/api/")) and route.method != "HEAD":
            operation = _plugin_operation(route)
        else:
            continue
        parameters = re.findall(r"\{(\w+)[^}]*\}", path)
        if parameters:
            operation["parameters"] = [
                *({"name": name, "in": "path", "required": True, "schema": {"type": "string"}} for name in parameters),
                *operation.get("parameters", []),
            ]
        paths.setdefault(path, {})[route.method.lower()] = operation
    return {
        "openapi": "3.1.0",
        "info": {"title": "flowhost", "version": __version__},
        "security": [{"bearer": []}, {"cookie": []}],
        "paths": paths,
        "components": _components(app[keys.RUNTIME].registry),
    }


def _plugin_operation(route: web.AbstractRoute) -> dict[str, Any]:
    """A route a plugin added under /api (through flowhost_web_routes): described by its handler's docstring."""
    doc = inspect.getdoc(route.handler) or "A route added by a plugin."
    summary, _, description = doc.partition("\n\n")
    operation: dict[str, Any] = {"summary": " ".join(summary.split()), "tags": ["plugins"]}
    if description:
        operation["description"] = description
    operation["responses"] = {"200": {"description": "see the description"}, "401": {"description": "no token"}}
    return operation


async def openapi(request: web.Request) -> web.Response:
    return json_response(describe(request.app))
