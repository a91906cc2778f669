"""JSON in and out: every API answer is JSON, errors as ``{"errors": [{"path", "message"}]}``."""

from __future__ import annotations

from typing import Any

import orjson
from aiohttp import web


def json_response(data: Any, status: int = 200, headers: dict[str, str] | None = None) -> web.Response:
    return web.Response(body=orjson.dumps(data), status=status, headers=headers, content_type="application/json")


def error_response(status: int, message: str, path: str = "", headers: dict[str, str] | None = None) -> web.Response:
    return json_response({"errors": [{"path": path, "message": message}]}, status, headers)


class BodyError(web.HTTPBadRequest):
    """The request body is not what the route reads."""

    def __init__(self, message: str) -> None:
        super().__init__(
            body=orjson.dumps({"errors": [{"path": "", "message": message}]}), content_type="application/json"
        )


async def read_json(request: web.Request) -> Any:
    body = await request.read()
    if not body:
        raise BodyError("the body is empty; send a JSON document")
    try:
        return orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise BodyError(f"the body is not JSON: {exc}") from None


async def read_text(request: web.Request) -> str:
    body = await request.read()
    try:
        return body.decode("utf-8")
    except UnicodeDecodeError:
        raise BodyError("the body is not UTF-8 text") from None
