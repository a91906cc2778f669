"""Who may use ``/api`` and plugins' routes under ``/plugins``: a bearer token, or the cookie a browser got by
opening ``/?token=...``. A plugin route marked with ``flowhost.public_route`` is served to anyone.

- ``Authorization: Bearer <token>`` works for every route (scripts, curl).
- Opening ``/?token=<token>`` (the URL ``flowhost run`` prints) sets an HttpOnly, SameSite=Strict cookie
  (``flowhost-token-<port>``) and
  redirects to ``/``, so the token leaves the address bar and the history, as Jupyter does. The editor's
  ``fetch`` and WebSocket then carry the cookie.
- Requests authenticated by the cookie that change state (anything but GET/HEAD/OPTIONS) must also prove they
  come from flowhost's own pages: an ``Origin`` header naming this host, or the ``X-Flowhost-Client`` header
  (which a cross-site page cannot send without a CORS preflight flowhost never allows). The WebSocket is
  checked the same way when the browser sends an ``Origin``.
- ``?token=`` is accepted on the WebSocket route only (a browser's WebSocket cannot send headers).

Tokens are compared in constant time; a refusal says only "authentication required".
"""

from __future__ import annotations

import hmac
from urllib.parse import urlsplit

from aiohttp import hdrs, web

from ..web_access import needs_api_token
from .responses import error_response

COOKIE_PREFIX = "flowhost-token-"
CLIENT_HEADER = "X-Flowhost-Client"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
EVENTS_PATH = "/api/events"


class Authenticator:
    def __init__(self, token: str) -> None:
        if not token:
            raise ValueError("the API token must not be empty")
        self._token = token.encode()

    def check(self, candidate: str | None) -> bool:
        if not candidate:
            return False
        return hmac.compare_digest(candidate.encode(errors="replace"), self._token)


AUTHENTICATOR: web.AppKey[Authenticator] = web.AppKey("authenticator")


def cookie_name(request: web.Request) -> str:
    """``flowhost-token-<port>``: cookies ignore ports, and two flowhosts on one host must not log each other out."""
    return f"{COOKIE_PREFIX}{request.url.port}"


def _same_origin(request: web.Request) -> bool:
    origin = request.headers.get(hdrs.ORIGIN)
    return origin is not None and urlsplit(origin).netloc == request.host


def _refused() -> web.Response:
    return error_response(401, "authentication required", headers={"WWW-Authenticate": 'Bearer realm="flowhost"'})


@web.middleware
async def auth_middleware(request: web.Request, handler) -> web.StreamResponse:
    authenticator = request.app[AUTHENTICATOR]
    if not needs_api_token(request.path, request.match_info.handler):
        if request.path == "/" and "token" in request.query and request.method == "GET":
            return _log_in(request, authenticator)
        return await handler(request)

    header = request.headers.get(hdrs.AUTHORIZATION)
    if header is not None:
        scheme, _, credentials = header.partition(" ")
        if scheme.lower() == "bearer" and authenticator.check(credentials.strip()):
            return await handler(request)
        return _refused()
    if authenticator.check(request.cookies.get(cookie_name(request))):
        is_websocket = request.headers.get(hdrs.UPGRADE, "").lower() == "websocket"
        if (request.method not in SAFE_METHODS and not (_same_origin(request) or CLIENT_HEADER in request.headers)) or (
            is_websocket and hdrs.ORIGIN in request.headers and not _same_origin(request)
        ):
            return error_response(403, "cross-site request refused")
        return await handler(request)
    if request.path == EVENTS_PATH and authenticator.check(request.query.get("token")):
        return await handler(request)
    return _refused()


def _log_in(request: web.Request, authenticator: Authenticator) -> web.StreamResponse:
    if not authenticator.check(request.query.get("token")):
        return web.Response(status=401, text="wrong token: use the editor URL that flowhost run printed\n")
    response = web.Response(status=302, headers={hdrs.LOCATION: "/"})
    response.set_cookie(
        cookie_name(request),
        request.query["token"],
        httponly=True,
        samesite="Strict",
        secure=request.secure,
        path="/",
    )
    return response
