"""``/api/context/global``, ``/api/flows/{id}/context``, ``/api/flows/{id}/nodes/{node}/context``: the shared state
nodes keep (``NodeContext.store``), read only."""

from __future__ import annotations

from aiohttp import web

from .. import keys
from ..context_store import ContextError, ContextScope
from ..workspace import Conflict, NotFound
from .responses import json_response


def _answer(scope: str, read) -> web.Response:
    try:
        values: ContextScope = read()
    except ContextError as exc:
        raise Conflict.one(str(exc)) from None
    return json_response({"scope": scope, "values": values.as_json()})


async def global_context(request: web.Request) -> web.Response:
    return _answer("global", lambda: request.app[keys.RUNTIME].context.scope("global"))


async def flow_context(request: web.Request) -> web.Response:
    record = request.app[keys.WORKSPACE].flow(request.match_info["id"])
    return _answer("flow", lambda: request.app[keys.RUNTIME].context.scope("flow", record.id))


async def node_context(request: web.Request) -> web.Response:
    record = request.app[keys.WORKSPACE].flow(request.match_info["id"])
    node_id = request.match_info["node"]
    if all(node.id != node_id for node in record.spec.nodes):
        raise NotFound.one(f"flow '{record.id}' has no node '{node_id}'")
    return _answer("node", lambda: request.app[keys.RUNTIME].context.scope("node", record.id, node_id))
