"""HTTP endpoints that running nodes serve on flowhost's web server (``http-uplink`` and plugins' nodes).

aiohttp freezes its router when the server starts, while nodes come and go with deployments; so one
catch-all route dispatches to this table, which nodes fill and empty at run time.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Awaitable, Callable

from aiohttp import web

from .web_access import is_plugin_path

log = logging.getLogger("flowhost.http")

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


class EndpointConflict(ValueError):
    pass


class HttpEndpoints:
    def __init__(self) -> None:
        self._routes: dict[tuple[str, str], tuple[str, Handler]] = {}
        self.exposed_on: str | None = None
        """The address the web server listens on when it is beyond loopback (set by ``flowhost run``)."""
        self.refused: Counter[str] = Counter()
        """Requests aiohttp refused with 400 before any handler ran, by exception name."""

    def add(self, method: str, path: str, handler: Handler, owner: str, *, unauthenticated: bool = False) -> None:
        if not path.startswith("/") or path.startswith("/api/") or path == "/api":
            raise EndpointConflict(f"path must start with '/' and must not be under /api/, got {path!r}")
        key = (method.upper(), path)
        if key in self._routes and self._routes[key][0] != owner:
            raise EndpointConflict(f"{method.upper()} {path} is already served by node '{self._routes[key][0]}'")
        self._routes[key] = (owner, handler)
        if unauthenticated and self.exposed_on is not None:
            log.warning(
                "node '%s' serves %s %s on %s without authentication: anyone who reaches this address can "
                "call it; give the node a token",
                owner,
                key[0],
                path,
                self.exposed_on,
            )

    def remove_owner(self, owner: str) -> None:
        for key in [key for key, (route_owner, _) in self._routes.items() if route_owner == owner]:
            del self._routes[key]

    def find(self, method: str, path: str) -> Handler | None:
        entry = self._routes.get((method, path))
        return entry[1] if entry else None

    def handler_for(self, request: web.Request) -> Handler | None:
        """The running node's handler of a request the catch-all route took, unless the request needs the API
        token (a node's path under ``/plugins/``): the web server's guard calls it without the API's middlewares,
        which would only let it through (``flowhost.http_guard.RequestGuard``)."""
        if request.match_info.handler != self.dispatch or is_plugin_path(request.path):
            return None
        return self.find(request.method, request.path)

    def allowed_methods(self, path: str) -> list[str]:
        return sorted(method for method, route_path in self._routes if route_path == path)

    async def dispatch(self, request: web.Request) -> web.StreamResponse:
        handler = self.find(request.method, request.path)
        if handler is not None:
            return await handler(request)
        allowed = set(self.allowed_methods(request.path)) | await _methods_of_fixed_routes(request)
        if allowed:
            raise web.HTTPMethodNotAllowed(request.method, sorted(allowed))
        raise web.HTTPNotFound()


async def _methods_of_fixed_routes(request: web.Request) -> set[str]:
    """The methods the application's own routes (the API, plugins' routes) serve at this path: this catch-all
    matches every method, so without it a PATCH to /api/flows would read as 404 instead of 405."""
    allowed: set[str] = set()
    for resource in request.app.router.resources():
        if resource is request.match_info.route.resource:
            continue  # the catch-all itself
        match, methods = await resource.resolve(request)
        if match is None:
            allowed |= methods
    return allowed
