"""Every hook a flowhost plugin can implement.

Plugin authors write ``from flowhost import hookimpl`` and decorate functions whose names and parameters match
these specifications; an implementation may accept fewer parameters than the specification lists. The
per-message path never goes through a hook: hooks register things, node methods handle messages.
"""

from __future__ import annotations

import argparse
from collections.abc import Awaitable, Callable, Iterable, Mapping
from typing import TYPE_CHECKING, Any, Protocol

import pluggy

if TYPE_CHECKING:
    from aiohttp import web
    from jinja2.sandbox import SandboxedEnvironment

    from .events import RuntimeEvent
    from .node import Connection, Node
    from .runtime_view import RuntimeView

hookspec = pluggy.HookspecMarker("flowhost")


class Subcommands(Protocol):
    """What ``flowhost_register_commands`` is given: argparse's subparsers object, of which a plugin uses
    ``add_parser`` (it returns an ``argparse.ArgumentParser``)."""

    def add_parser(self, name: str, **kwargs: Any) -> argparse.ArgumentParser: ...


@hookspec
def flowhost_register_node_types(register: Callable[[type[Node]], None]) -> None:
    """Register node types by calling ``register(NodeSubclass)`` once for each.

    The class is checked when registered: a ``type`` name of lower-case letters, digits and dashes, a voluptuous
    ``config_schema``, a tuple of output port names and async ``start``/``on_input``/``close``. A bad class or a
    name another plugin already registered is reported with this plugin's name and distribution, and the rest
    of the plugin's types still load.

    :param register: call it with a :class:`flowhost.Node` subclass.
    """


@hookspec
def flowhost_register_connection_types(register: Callable[[type[Connection]], None]) -> None:
    """Register connection types by calling ``register(ConnectionSubclass)`` once for each.

    A connection type is keyed by its ``connector_id`` (ThingPark's ``connectorId``, e.g. ``actility-mqtt-iot``).
    Connections are shared by every node that names them, start before those nodes and stop after them.

    :param register: call it with a :class:`flowhost.Connection` subclass.
    """


@hookspec
def flowhost_prepare_template_environment(environment: SandboxedEnvironment) -> None:
    """Add filters, tests or globals to the sandboxed Jinja environment used for topic templates.

    Called once, before any template is compiled. Add to ``environment.filters``, ``environment.tests`` or
    ``environment.globals``; do not replace the environment or loosen its sandbox.

    :param environment: the shared :class:`jinja2.sandbox.SandboxedEnvironment`.
    """


@hookspec
def flowhost_web_routes(runtime: Any, view: RuntimeView) -> Iterable[web.AbstractRouteDef] | None:
    """Return aiohttp route definitions to serve on flowhost's web server.

    Use ``aiohttp.web.get(path, handler)`` and friends. Paths under ``/api/`` are reserved for flowhost;
    a plugin's paths should start with ``/plugins/<plugin-name>/``. Return ``None`` for no routes. Routes
    under ``/plugins/`` need the API token, as ``/api/`` does, unless their handler is marked with
    ``flowhost.public_route`` (it then checks its callers itself).

    :param runtime: the ``flowhost.runtime.Runtime`` itself, still passed for plugins written before ``view``;
        its attributes are no stable API: use ``view``.
    :param view: a read-only :class:`flowhost.runtime_view.RuntimeView` of the running flows and connections
        (read when a handler asks, so it sees the current deployment).
    """


@hookspec
def flowhost_register_commands(subcommands: Subcommands) -> None:
    """Add subcommands to the ``flowhost`` command line.

    Call ``parser = subcommands.add_parser(name, help=...)``, add arguments, then
    ``parser.set_defaults(handler=function)``: flowhost calls ``function(args)`` and exits with the ``int`` it
    returns. ``args.plugins`` is the loaded plugin host. Choose names that cannot clash with flowhost's own
    commands (``run``, ``validate``, ``test``, ``broker``, ``plugins``); a clash is reported and the command skipped.

    :param subcommands: the ``argparse`` subparsers object of the ``flowhost`` command.
    """


@hookspec
def flowhost_startup(runtime: Any, view: RuntimeView) -> Awaitable[None] | None:
    """Run code when flowhost starts, after plugins are loaded and before flows start.

    Return an awaitable (e.g. call an ``async def`` function and return its coroutine) to have it awaited.
    A failure is reported with the plugin's name and does not stop flowhost.

    :param runtime: the ``flowhost.runtime.Runtime`` itself, still passed for plugins written before ``view``;
        its attributes are no stable API: use ``view``.
    :param view: a read-only :class:`flowhost.runtime_view.RuntimeView` of the runtime that is starting.
    """


@hookspec
def flowhost_shutdown(runtime: Any, view: RuntimeView) -> Awaitable[None] | None:
    """Run code when flowhost stops, after every flow and connection stopped.

    Return an awaitable to have it awaited (under a time limit). A failure is reported and ignored.

    :param runtime: the ``flowhost.runtime.Runtime`` itself, still passed for plugins written before ``view``;
        its attributes are no stable API: use ``view``.
    :param view: a read-only :class:`flowhost.runtime_view.RuntimeView` of the runtime that is stopping.
    """


@hookspec
def flowhost_runtime_event(event: RuntimeEvent) -> None:
    """Observe what happens in the runtime: node status changes, errors, deployments, connection states.

    Called synchronously on the event loop for every event, so keep it short; start your own task for slow
    work. An exception here is logged with the plugin's name and ignored.

    :param event: a :class:`flowhost.events.RuntimeEvent` (``kind``, ids, ``data``, ``time``).
    """


@hookspec
def flowhost_connection_warnings(
    connector_id: str, connection_id: str, configuration: Mapping[str, Any]
) -> Iterable[str] | None:
    """Say what a user should know about a connection whose configuration is valid: ``flowhost validate`` prints
    each message as a warning and still accepts the flow (a refusal belongs in the type's schema).

    Called for every connection of the flow files validated, whatever its type: return ``None`` (or nothing) for
    types you do not know. A failure is reported with the plugin's name and the other plugins still answer.

    :param connector_id: the connection's type (``connectorId``), e.g. ``actility-mqtt-iot``.
    :param connection_id: the connection's id, to name it in messages.
    :param configuration: the configuration as its type's schema returned it (defaults filled in, secrets
        resolved): never put a secret value in a message.
    """
