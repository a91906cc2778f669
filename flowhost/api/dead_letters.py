"""``/api/connections/{id}/dead-letters``: what a connection could never deliver, listed, replayed, deleted.

Generic: a connection type keeps dead letters when it sets ``Connection.keeps_dead_letters`` and implements
the dead-letter methods of the base class; for any other type these routes answer 409.
"""

from __future__ import annotations

from typing import Any

from aiohttp import web

from .. import keys
from ..node import Connection
from ..workspace import Conflict, Invalid, NotFound
from .responses import json_response, read_json

DEFAULT_PAGE = 100
MAX_PAGE = 1000


def _connection(request: web.Request) -> Connection:
    connection_id = request.match_info["id"]
    runner = request.app[keys.RUNTIME].connections.get(connection_id)
    if runner is None:
        request.app[keys.WORKSPACE].connection_view(connection_id)  # 404 for an unknown connection
        raise Conflict.one(f"connection '{connection_id}' is not running: deploy a flow that uses it")
    connection = runner.connection
    if not connection.keeps_dead_letters:
        raise Conflict.one(f"connections of type {connection.connector_id} keep no dead letters")
    return connection


def _whole_number(request: web.Request, name: str, default: int | None, minimum: int, maximum: int) -> int | None:
    text = request.query.get(name)
    if text is None:
        return default
    if not text.isdigit() or not minimum <= int(text) <= maximum:
        raise Invalid.one(f"{name} must be a whole number from {minimum} to {maximum}, got {text!r}", name)
    return int(text)


async def _ids(request: web.Request) -> list[int] | None:
    """The ``ids`` of the JSON body, or None (every letter) when there is no body."""
    if not request.can_read_body:
        return None
    body: Any = await read_json(request)
    if not isinstance(body, dict) or set(body) - {"ids"}:
        raise Invalid.one('the body must be {"ids": [1, 2, ...]}, or empty for every dead letter')
    ids = body.get("ids")
    if not isinstance(ids, list) or not all(type(item) is int for item in ids):
        raise Invalid.one("ids must be a list of dead-letter ids (whole numbers)", "ids")
    return ids


async def list_dead_letters(request: web.Request) -> web.Response:
    connection = _connection(request)
    limit = _whole_number(request, "limit", DEFAULT_PAGE, 1, MAX_PAGE)
    after = _whole_number(request, "after", None, 0, 2**63)
    letters, next_after = connection.dead_letters(limit, after)
    return json_response({"deadLetters": letters, "next": next_after})


async def replay_dead_letters(request: web.Request) -> web.Response:
    connection = _connection(request)
    return json_response(await connection.replay_dead_letters(await _ids(request)))


async def delete_dead_letters(request: web.Request) -> web.Response:
    connection = _connection(request)
    return json_response({"deleted": await connection.delete_dead_letters(await _ids(request))})


async def delete_dead_letter(request: web.Request) -> web.Response:
    connection = _connection(request)
    text = request.match_info["letter"]
    if not text.isdigit():
        raise NotFound.one(f"no dead letter '{text}'")
    if not await connection.delete_dead_letters([int(text)]):
        raise NotFound.one(f"no dead letter {text} on connection '{connection.id}'")
    return web.Response(status=204)
