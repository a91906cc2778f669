"""Typed keys for what the aiohttp application holds.

The API's own objects have their keys beside them (``api.auth.AUTHENTICATOR``, ``api.events.EVENT_HUB``), so
that this module imports no module that imports it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from aiohttp import web

if TYPE_CHECKING:
    from .broker import EmbeddedBroker
    from .runtime import Runtime
    from .workspace import Workspace

RUNTIME: web.AppKey[Runtime] = web.AppKey("runtime")
WORKSPACE: web.AppKey[Workspace] = web.AppKey("workspace")
BROKER: web.AppKey[EmbeddedBroker | None] = web.AppKey("broker")
