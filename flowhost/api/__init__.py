"""flowhost's REST API under ``/api``: connections, flows, node types, live events and its OpenAPI description.

``setup_api(app, workspace, token)`` adds the routes, the authentication and error middlewares and the event
hub to the application that ``flowhost.app.create_web_app`` builds.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

from aiohttp import web

from .. import keys
from ..workspace import Workspace
from .auth import AUTHENTICATOR, Authenticator, auth_middleware
from .errors import error_middleware
from .events import EVENT_HUB, EventHub
from .routes import ROUTES


def setup_api(app: web.Application, workspace: Workspace, token: str) -> None:
    app[keys.WORKSPACE] = workspace
    app[AUTHENTICATOR] = Authenticator(token)
    app[EVENT_HUB] = EventHub(workspace.runtime)
    app.middlewares.extend([auth_middleware, error_middleware])
    app.router.add_routes(ROUTES)
    app.cleanup_ctx.append(_event_hub)


async def _event_hub(app: web.Application) -> AsyncIterator[None]:
    hub = app[EVENT_HUB]
    hub.start()
    yield
    await hub.stop()


__all__ = ["setup_api"]
