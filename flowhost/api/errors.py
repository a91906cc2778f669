"""Errors under ``/api`` are JSON too: refused changes with their status, HTTP errors, and a bare 500."""

from __future__ import annotations

import logging

from aiohttp import web

from ..web_access import is_api_path
from ..workspace import WorkspaceError
from .responses import error_response, json_response

log = logging.getLogger(__name__)


@web.middleware
async def error_middleware(request: web.Request, handler) -> web.StreamResponse:
    if not is_api_path(request.path):
        return await handler(request)
    try:
        return await handler(request)
    except WorkspaceError as exc:
        return json_response({"errors": exc.errors}, exc.status)
    except ConnectionResetError:
        raise  # the client left: flowhost.http_guard.RequestGuard logs it
    except web.HTTPException as exc:
        if exc.content_type == "application/json" or exc.status < 400:
            raise
        message = exc.reason if exc.status != 405 else f"method not allowed; allowed: {', '.join(exc.allowed_methods)}"
        if exc.status == 413:
            message = exc.text or message  # "Maximum request body size 4194304 exceeded, ..."
        return error_response(exc.status, message, headers={k: v for k, v in exc.headers.items() if k == "Allow"})
    except Exception:
        log.exception("%s %s failed", request.method, request.path)
        return error_response(500, "internal error; see flowhost's log")
