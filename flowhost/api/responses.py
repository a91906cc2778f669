"""JSON in and out: every API answer is JSON, errors as ``{"errors": [{"path", "message"}]}``."""

from __future__ import annotations

import json
from typing import Any

import orjson
from aiohttp import web

from ..workspace import Invalid


def json_response(data: Any, status: int = 200, headers: dict[str, str] | None = None) -> web.Response:
    try:
        body = orjson.dumps(data)
    except TypeError:  # an integer beyond 64 bits, from a YAML file: the standard library writes it
        body = json.dumps(data, default=str, separators=(",", ":")).encode()
    return web.Response(body=body, status=status, headers=headers, content_type="application/json")


def error_response(status: int, message: str, path: str = "", headers: dict[str, str] | None = None) -> web.Response:
    return json_response({"errors": [{"path": path, "message": message}]}, status, headers)


async def read_json(request: web.Request) -> Any:
    body = await request.read()
    if not body:
        raise Invalid.one("the body is empty; send a JSON document")
    try:
        return orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise Invalid.one(f"the body is not JSON: {exc}") from None


async def read_text(request: web.Request) -> str:
    body = await request.read()
    try:
        return body.decode("utf-8")
    except UnicodeDecodeError:
        raise Invalid.one("the body is not UTF-8 text") from None
