"""Typed keys for what the aiohttp application holds."""

from __future__ import annotations

from typing import TYPE_CHECKING

from aiohttp import web

if TYPE_CHECKING:
    from .api.auth import Authenticator
    from .api.events import EventHub
    from .broker import EmbeddedBroker
    from .runtime import Runtime
    from .workspace import Workspace

RUNTIME: web.AppKey[Runtime] = web.AppKey("runtime")
WORKSPACE: web.AppKey[Workspace] = web.AppKey("workspace")
AUTHENTICATOR: web.AppKey[Authenticator] = web.AppKey("authenticator")
EVENT_HUB: web.AppKey[EventHub] = web.AppKey("event_hub")
BROKER: web.AppKey[EmbeddedBroker | None] = web.AppKey("broker")
