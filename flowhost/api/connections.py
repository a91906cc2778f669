"""``/api/connections``: ThingPark's connection resource (``connectorId``, ``name``, ``configuration``)."""

from __future__ import annotations

from aiohttp import web

from .. import keys
from .responses import json_response, read_json


async def list_connections(request: web.Request) -> web.Response:
    workspace = request.app[keys.WORKSPACE]
    return json_response({"connections": [workspace.connection_view(cid) for cid in workspace.connection_ids()]})


async def get_connection(request: web.Request) -> web.Response:
    return json_response(request.app[keys.WORKSPACE].connection_view(request.match_info["id"]))


async def create_connection(request: web.Request) -> web.Response:
    view = await request.app[keys.WORKSPACE].create_connection(await read_json(request))
    return json_response(view, 201, {"Location": f"/api/connections/{view['id']}"})


async def replace_connection(request: web.Request) -> web.Response:
    workspace = request.app[keys.WORKSPACE]
    return json_response(await workspace.replace_connection(request.match_info["id"], await read_json(request)))


async def delete_connection(request: web.Request) -> web.Response:
    await request.app[keys.WORKSPACE].delete_connection(request.match_info["id"])
    return web.Response(status=204)
