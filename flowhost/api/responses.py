"""JSON in and out: every API answer is JSON, errors as ``{"errors": [{"path", "message"}]}``."""

from __future__ import annotations

import json
from typing import Any

import orjson
from aiohttp import web
from aiohttp.http_exceptions import HttpProcessingError

from ..http_guard import body_problem
from ..workspace import Invalid

MAX_JSON_DEPTH = 64
"""Nesting of arrays and objects in a request body; flows and connections are a dozen levels deep at most, and
deeper documents would exhaust Python's recursion limit in validation."""


def json_response(data: Any, status: int = 200, headers: dict[str, str] | None = None) -> web.Response:
    try:
        body = orjson.dumps(data)
    except TypeError:  # an integer beyond 64 bits, from a YAML file: the standard library writes it
        body = json.dumps(data, default=str, separators=(",", ":")).encode()
    return web.Response(body=body, status=status, headers=headers, content_type="application/json")


def error_response(status: int, message: str, path: str = "", headers: dict[str, str] | None = None) -> web.Response:
    return json_response({"errors": [{"path": path, "message": message}]}, status, headers)


async def read_body(request: web.Request) -> bytes:
    """The whole body, at most the application's ``client_max_size`` (413 beyond), chunked or not."""
    try:
        return await request.read()
    except (web.RequestPayloadError, HttpProcessingError) as exc:  # a corrupt gzip or deflate body
        raise Invalid.one(f"the body cannot be read: {body_problem(exc)}") from None


async def read_json(request: web.Request) -> Any:
    body = await read_body(request)
    if not body:
        raise Invalid.one("the body is empty; send a JSON document")
    try:
        document = orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise Invalid.one(f"the body is not JSON: {exc}") from None
    if nested_deeper(document, MAX_JSON_DEPTH):
        raise Invalid.one(f"the body is nested deeper than {MAX_JSON_DEPTH} levels of arrays and objects")
    return document


def nested_deeper(value: Any, levels: int) -> bool:
    """Whether arrays and objects nest more than ``levels`` deep in ``value`` (recursion bounded by ``levels``)."""
    if type(value) is dict:
        children = value.values()
    elif type(value) is list:
        children = value
    else:
        return False
    return levels == 0 or any(nested_deeper(child, levels - 1) for child in children)


async def read_text(request: web.Request) -> str:
    body = await read_body(request)
    try:
        return body.decode("utf-8")
    except UnicodeDecodeError:
        raise Invalid.one("the body is not UTF-8 text") from None
