"""JSON in and out: every API answer is JSON, errors as ``{"errors": [{"path", "message"}]}``."""

from __future__ import annotations

import json
from typing import Any

import orjson
from aiohttp import web

from ..flow_yaml import MAX_YAML_DEPTH
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
        document = orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise Invalid.one(f"the body is not JSON: {exc}") from None
    if _nested_deeper(document, MAX_YAML_DEPTH):
        raise Invalid.one(f"the body is nested deeper than {MAX_YAML_DEPTH} levels")
    return document


def _nested_deeper(document: Any, limit: int) -> bool:
    """Whether lists and objects nest deeper than ``limit``: flow documents are walked recursively later."""
    if type(document) is not dict and type(document) is not list:
        return False
    stack = [(document, 0)]
    while stack:
        value, depth = stack.pop()
        if depth > limit:
            return True
        children = value.values() if type(value) is dict else value
        stack.extend((child, depth + 1) for child in children if type(child) is dict or type(child) is list)
    return False


async def read_text(request: web.Request) -> str:
    body = await request.read()
    try:
        return body.decode("utf-8")
    except UnicodeDecodeError:
        raise Invalid.one("the body is not UTF-8 text") from None
