"""Which routes of flowhost's web server anyone may use: a plugin marks the few that must be public.

Routes under ``/api/`` and ``/plugins/`` need the API token (see ``flowhost.api.auth``). A plugin route that
must answer without it (a webhook that checks its own signature, a health check) says so explicitly.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

Handler = TypeVar("Handler", bound=Callable[..., Any])

_PUBLIC = "__flowhost_public__"


def public_route(handler: Handler) -> Handler:
    """Serve this plugin route under ``/plugins/`` without the API token; the handler then checks whoever
    calls it itself. Has no effect under ``/api/``, which always needs the token."""
    setattr(handler, _PUBLIC, True)
    return handler


def is_public(handler: Any) -> bool:
    return getattr(handler, _PUBLIC, False) is True


def is_api_path(path: str) -> bool:
    return path == "/api" or path.startswith("/api/")


def is_plugin_path(path: str) -> bool:
    return path == "/plugins" or path.startswith("/plugins/")


def needs_api_token(path: str, handler: Any) -> bool:
    """The API, and plugins' routes except those marked with :func:`public_route` (``handler``: the route's)."""
    return is_api_path(path) or (is_plugin_path(path) and not is_public(handler))
