"""Assembling flowhost: plugins, registry, runtime, web server and the embedded broker.

:func:`create_app` builds the whole server that ``flowhost run`` serves (and a test can drive with
``aiohttp_client``); :func:`create_web_app` the aiohttp application alone, for a runtime built by the caller.
"""

from __future__ import annotations

import logging
import os
from collections.abc import AsyncIterator, Iterable, Sequence
from pathlib import Path

from aiohttp import web

from . import keys
from .api import setup_api
from .broker import EmbeddedBroker
from .clock import Clock
from .http_guard import HostCheck, RequestGuard
from .permissions import make_private_directory
from .plugins import PluginHost, load_plugins
from .registry import Registry
from .resources import resource_dir
from .runtime import Runtime
from .store import Store, api_token
from .workspace import Workspace

log = logging.getLogger(__name__)

DATA_DIR_ENV = "FLOWHOST_DATA_DIR"
MAX_API_BODY_BYTES = 4 * 1024 * 1024


def default_data_dir() -> Path:
    return Path(os.environ.get(DATA_DIR_ENV) or Path.home() / ".flowhost")


def create_runtime(data_dir: Path, plugins: PluginHost | None = None, clock: Clock | None = None) -> Runtime:
    """``clock`` defaults to real time; a ``flowhost.clock.ManualClock`` makes time move only when advanced."""
    plugins = plugins or load_plugins()
    registry = Registry.from_plugins(plugins)
    return Runtime(plugins, registry, registry.templates, data_dir, clock)


def create_web_app(
    runtime: Runtime,
    extra_routes: Iterable[web.AbstractRouteDef] = (),
    *,
    workspace: Workspace | None = None,
    token: str | None = None,
    allowed_hosts: Iterable[str] = (),
) -> web.Application:
    """The aiohttp application: the REST API, editor files, plugin routes and the nodes' HTTP endpoints.

    ``workspace`` defaults to one on the runtime's data directory, ``token`` to ``FLOWHOST_TOKEN`` or the
    data directory's generated one. Requests whose ``Host`` is not the server's address, a loopback name or
    one of ``allowed_hosts`` get 421.
    """
    app = web.Application(client_max_size=MAX_API_BODY_BYTES)
    app.middlewares.append(RequestGuard(HostCheck(allowed_hosts), runtime.http).middleware)
    app[keys.RUNTIME] = runtime
    workspace = workspace or Workspace(runtime, Store(runtime.data_dir))
    setup_api(app, workspace, token or api_token(runtime.data_dir)[0])
    web_dir = resource_dir("web")

    async def index(request: web.Request) -> web.FileResponse:
        return web.FileResponse(web_dir / "index.html")

    app.router.add_get("/", index)
    app.router.add_static("/static/", web_dir, follow_symlinks=False)
    app.router.add_routes(list(extra_routes))
    for plugin_name, routes in runtime.plugins.call_each("flowhost_web_routes", runtime=runtime, view=runtime.view):
        if routes:
            try:
                app.router.add_routes(list(routes))
            except Exception as exc:
                runtime.plugins.report(plugin_name, f"its routes cannot be added: {exc}")
    # Registered last: node endpoints come and go while the server runs.
    app.router.add_route("*", "/{path:.*}", runtime.http.dispatch)
    return app


class StartupError(Exception):
    """The stored connections or the flow files could not be loaded: nothing started; every error in ``errors``."""

    def __init__(self, errors: list[str]) -> None:
        super().__init__("\n".join(errors))
        self.errors = errors


def create_app(
    data_dir: Path,
    plugins: PluginHost | None = None,
    *,
    flow_files: Sequence[Path] = (),
    demo: Path | None = None,
    broker: EmbeddedBroker | None = None,
    allowed_hosts: Iterable[str] = (),
    exposed_on: str | None = None,
    clock: Clock | None = None,
) -> web.Application:
    """The whole flowhost server on ``data_dir``: runtime, workspace (the stored connections and flows, the
    ``flow_files`` and, when given, the ``demo`` file), REST API, editor and the optional embedded ``broker``.

    Nothing starts before the application does: its ``cleanup_ctx`` starts the broker, the runtime (startup
    hooks) and the workspace (connections, then flows) in that order, and stops them in the reverse one when
    the application is cleaned up. ``exposed_on``: the address the server listens on when it is not loopback
    (node endpoints that answer anyone are then warned about). Raises :class:`StartupError` with every error of
    the files, and the Workspace's errors for an unreadable data directory (``SecretKeyError``, ``StoreError``).
    """
    make_private_directory(data_dir)
    runtime = create_runtime(data_dir, plugins, clock)
    workspace = Workspace(runtime, Store(data_dir))
    errors = workspace.load_connections()
    errors += workspace.load_flow_files(list(flow_files), demo=demo)
    if errors:
        raise StartupError(errors)
    if exposed_on is not None:
        runtime.http.exposed_on = exposed_on
    app = create_web_app(runtime, workspace=workspace, token=api_token(data_dir)[0], allowed_hosts=allowed_hosts)
    app[keys.BROKER] = broker
    app.cleanup_ctx.append(_running)
    return app


async def _running(app: web.Application) -> AsyncIterator[None]:
    runtime, workspace, broker = app[keys.RUNTIME], app[keys.WORKSPACE], app[keys.BROKER]
    if broker is not None:
        await broker.start()  # first: the flows' connections may use it
    try:
        await runtime.start()
        await workspace.start()
        yield
    finally:
        workspace.ready = False  # /healthz answers 503 while flowhost stops
        try:
            await runtime.stop()
        finally:
            if broker is not None:
                await broker.stop()
