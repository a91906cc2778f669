"""``/api/openapi.json``: an OpenAPI 3.1 description built from the same schemas that validate requests."""

from __future__ import annotations

import inspect
import re
from typing import Any

from aiohttp import web

from .. import __version__, keys
from .openapi_schemas import ANY_OBJECT, STRING, array_of, components, object_schema, ref
from .responses import json_response

ERRORS = {"$ref": "#/components/schemas/Errors"}
JSON = "application/json"


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


def _operation(summary: str, responses: dict[str, Any], body: dict[str, Any] | None = None) -> dict[str, Any]:
    return {"summary": summary, **({"requestBody": body} if body is not None else {}), "responses": responses}


def _operations() -> dict[str, dict[str, Any]]:
    """``"METHOD path"`` -> operation; every route of routes.py has one (a test checks)."""
    return {
        **_connection_operations(),
        **_dead_letter_operations(),
        **_flow_operations(),
        **_one_flow_operations(),
        **_context_operations(),
        **_server_operations(),
    }


def _connection_operations() -> dict[str, dict[str, Any]]:
    connection, body = ref("Connection"), _body(ref("ConnectionBody"))
    every = object_schema({"connections": array_of(connection)})
    return {
        "GET /api/connections": _operation(
            "Every connection (the API's and the flows'), secrets masked, with state and counters",
            _responses(200, every),
        ),
        "POST /api/connections": _operation(
            "Create and start a connection (ThingPark's body)",
            _responses(201, connection, 400, 409, description="created; Location names it"),
            body,
        ),
        "GET /api/connections/{id}": _operation("One connection", _responses(200, connection, 404)),
        "PUT /api/connections/{id}": _operation(
            "Replace the whole connection; the running one restarts with it, with the nodes using it",
            _responses(200, connection, 400, 404, 409),
            body,
        ),
        "DELETE /api/connections/{id}": _operation(
            "Stop and delete a connection; 409 while a flow uses it", _responses(204, None, 404, 409)
        ),
    }


def _flow_operations() -> dict[str, dict[str, Any]]:
    flow = ref("Flow")
    every = object_schema({"flows": array_of(ref("FlowSummary"))})
    return {
        "GET /api/flows": _operation("Every flow, in short", _responses(200, every)),
        "POST /api/flows": _operation(
            "Create and deploy a flow; written to <data-dir>/flows/<id>.yaml",
            _responses(201, flow, 400, 409),
            _body(flow),
        ),
        "POST /api/flows/import": _operation(
            "Create and deploy a flow from flow-file YAML (comments are kept)",
            _responses(201, flow, 400, 409),
            _body(STRING, "text/yaml"),
        ),
        "POST /api/flows/validate": _operation(
            "Every error of a new flow, without deploying", _responses(200, ref("Validation")), _body(flow)
        ),
    }


def _one_flow_operations() -> dict[str, dict[str, Any]]:
    flow = ref("Flow")
    yaml = {"200": {"description": "YAML", "content": {"text/yaml": {"schema": STRING}}}}
    return {
        "GET /api/flows/{id}": _operation("One flow, with its rev", _responses(200, flow, 404)),
        "PUT /api/flows/{id}": _operation(
            "Validate and deploy a changed flow (only changed nodes restart); give the rev you changed",
            _responses(200, flow, 400, 404, 409),
            _body(flow),
        ),
        "DELETE /api/flows/{id}": _operation(
            "Stop and delete a flow; 409 for flows given on the command line", _responses(204, None, 404, 409)
        ),
        "POST /api/flows/{id}/validate": _operation(
            "Every error of a changed flow, without deploying", _responses(200, ref("Validation"), 404), _body(flow)
        ),
        "GET /api/flows/{id}/yaml": _operation("The flow file (secrets written in it as text are masked)", yaml),
        "GET /api/flows/{id}/status": _operation(
            "Each node's status, counters and queue", _responses(200, ANY_OBJECT, 404)
        ),
        "POST /api/flows/{id}/nodes/{node}/inject": _operation(
            "Trigger a running node by hand (inject sends its message); 409 for a type that cannot be",
            _responses(204, None, 404, 409, description="triggered"),
        ),
    }


def _server_operations() -> dict[str, dict[str, Any]]:
    outputs = object_schema({"outputs": array_of(STRING)})
    health = {JSON: {"schema": ref("Health")}}
    return {
        "GET /api/node-types": _operation(
            "Node and connection types with their form fields", _responses(200, ANY_OBJECT)
        ),
        "POST /api/node-types/{type}/outputs": _operation(
            "The output ports a node of this type has with the config given (switch: one per rule)",
            _responses(200, outputs, 400, 404),
            _body(ANY_OBJECT),
        ),
        "GET /api/openapi.json": _operation("This description", _responses(200, ANY_OBJECT)),
        "GET /api/metrics": _operation(
            "Node and connection counters, connection states and process figures for Prometheus",
            {
                "200": {
                    "description": "Prometheus text format",
                    "content": {"text/plain": {"schema": STRING}},
                },
                "401": {"description": "no or wrong token"},
            },
        ),
        "GET /api/status": _operation(
            "Each flow (deployed, its file and why it runs), each connection's state and outbox length",
            _responses(200, ref("Status")),
        ),
        "GET /healthz": {
            "summary": "Liveness and readiness for orchestrators; no token, and nothing else is told",
            "security": [],
            "responses": {
                "200": {"description": "ready: the flows run", "content": health},
                "503": {"description": "live but not ready (starting or stopping)", "content": health},
            },
        },
        "GET /api/events": _operation(
            "WebSocket of runtime events (JSON text frames) and a counters event every second",
            {"101": {"description": "switching to WebSocket"}, "401": {"description": "no or wrong token"}},
        ),
    }


def _context_operations() -> dict[str, dict[str, Any]]:
    context = object_schema(
        {
            "scope": {"enum": ["global", "flow", "node"]},
            "values": {"type": "object", "description": "every key of the scope with its JSON value"},
        },
        required=["scope", "values"],
    )
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
    page = object_schema(
        {
            "deadLetters": array_of(ref("DeadLetter")),
            "next": {"type": ["integer", "null"], "description": "give it as 'after' for the next page"},
        }
    )
    ids = {
        "required": False,
        "description": "the letters to act on; no body: every letter",
        "content": {JSON: {"schema": object_schema({"ids": {"type": "array"}})}},
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
            "responses": _responses(200, ANY_OBJECT, 400, 404, 409),
        },
        f"DELETE {path}": {
            "summary": "Delete dead letters: those of the body's ids, or all of them",
            "requestBody": ids,
            "responses": _responses(200, ANY_OBJECT, 400, 404, 409),
        },
        f"DELETE {path}/{{letter}}": {
            "summary": "Delete one dead letter",
            "responses": _responses(204, None, 404, 409),
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
                *({"name": name, "in": "path", "required": True, "schema": STRING} for name in parameters),
                *operation.get("parameters", []),
            ]
        paths.setdefault(path, {})[route.method.lower()] = operation
    return {
        "openapi": "3.1.0",
        "info": {"title": "flowhost", "version": __version__},
        "security": [{"bearer": []}, {"cookie": []}],
        "paths": paths,
        "components": components(app[keys.RUNTIME].registry),
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
