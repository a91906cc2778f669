"""The base classes plugin authors subclass: Node (a step in a flow) and Connection (a shared link)."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Collection, Mapping, Sequence
from typing import TYPE_CHECKING, Any, ClassVar, Literal, Protocol

import voluptuous as vol

if TYPE_CHECKING:
    from pathlib import Path

    from aiohttp import web
    from jinja2.sandbox import SandboxedEnvironment

    from .clock import Clock
    from .context_store import ContextScope
    from .events import RuntimeEvent
    from .message import Message

__all__ = ["Connection", "ConnectionContext", "Node", "NodeContext", "NotTriggerable", "StatusLevel"]

StatusLevel = Literal["ok", "info", "warning", "error"]


class NodeContext(Protocol):
    """What the runtime gives a node: sending, status, logging, owned tasks, connections and HTTP endpoints.

    A protocol: the runtime builds a small object of its own for each node (nodes never build their own), and
    that object offers this and nothing else: no way to the runtime, its flows or other nodes' internals. A test
    may hand a node any object with these members.
    """

    node_id: str
    flow_id: str
    log: logging.Logger
    templates: SandboxedEnvironment
    """The sandboxed Jinja environment, with the filters plugins added; compile templates once, in start()."""
    clock: Clock
    """The runtime's clock: ``now()`` (monotonic seconds), ``wall_time()`` (epoch seconds), ``await sleep(s)`` and
    ``await sleep_until(deadline)``. Time-based nodes read and wait only through it, so that tests (and
    ``flowhost test``) can advance time instead of waiting for it."""
    flow_dir: Path | None
    """The folder of the flow's file, that relative paths in a node's config are relative to (None when the flow
    has no file)."""

    async def send(self, msg: Message, port: str = "out") -> None:
        """Deliver ``msg`` to every node wired to ``port``; waits while a receiver's inbox is full."""
        ...

    def send_nowait(self, msg: Message, port: str = "out") -> bool:
        """Deliver ``msg`` at once if every receiver's inbox has room and return True; else send nothing and
        return False (then use :meth:`send`). For sources fed by callbacks, saving a queue and a task switch."""
        ...

    def send_many_nowait(self, msgs: Sequence[Message], port: str = "out") -> int:
        """Deliver the first of ``msgs``, in order, as far as every receiver's inbox has room, and return how
        many went (the rest are for :meth:`send`): :meth:`send_nowait` for a source that receives many
        messages at once, with the wiring looked up and the room checked once."""
        ...

    def status(self, text: str, level: StatusLevel = "info") -> None:
        """Show a short status under the node in the editor and in the API (``connected``, ``3 errors``)."""
        ...

    def count(self, name: str, amount: int = 1) -> None:
        """Add to one of the node's counters (shown by the API and the editor)."""
        ...

    def alarm(self, state: Literal["raised", "cleared"], data: Mapping[str, Any]) -> None:
        """Report an alarm raised or cleared: a runtime event of kind ``alarm`` (to the API's event stream, the
        editor and plugins' ``flowhost_runtime_event``) with ``data`` and ``state``."""
        ...

    def create_task(self, coro: Awaitable[Any], name: str) -> Any:
        """Start a task the runtime owns: cancelled when the node closes, its failure reported."""
        ...

    def connection(self, connection_id: str) -> Connection:
        """The started connection object with this id (validated to exist before the node starts)."""
        ...

    def add_http_route(
        self,
        method: str,
        path: str,
        handler: Callable[[web.Request], Awaitable[web.StreamResponse]],
        *,
        unauthenticated: bool = False,
    ) -> None:
        """Serve ``method path`` on flowhost's web server while the node runs (removed when it closes).

        ``unauthenticated=True`` says the handler answers anyone (no token configured): flowhost then warns when
        its web server listens beyond loopback."""
        ...

    def report_error(self, error: BaseException | str, msg: Message | None = None) -> None:
        """Count and report an error about one message without stopping the node."""
        ...

    def show_debug(self, msg: Message, text: str) -> None:
        """Show a message in the editor's debug panel (``text`` is its payload rendered for people)."""
        ...

    def store(self, scope: Literal["node", "flow", "global"] = "node") -> ContextScope:
        """Shared state kept in the data directory: this node's own (``node``), its flow's (``flow``, shared by
        the flow's nodes) or everyone's (``global``). ``get(key, default)``, ``set(key, value)`` (a JSON value;
        raises ``ContextFull`` past the scope's size bound), ``delete(key)``, ``keys()``. Writes are grouped and
        reach the disk within ``Runtime.context_flush_interval`` and at stop."""
        ...

    async def deliver(self, address: str, msg: Message) -> None:
        """Put ``msg`` into the inbox of the running node ``flow/node`` (any flow; waits while it is full).
        Raises LookupError when no such node runs or it has no input. For types that wire across flows."""
        ...

    def find_nodes(self, node_type: str) -> Mapping[str, Mapping[str, Any]]:
        """The running nodes of ``node_type`` in every flow: their validated configs by ``flow/node`` address.
        Cheap to call per message (kept until the next deploy)."""
        ...


class Node:
    """A step in a flow. Subclasses set the class attributes and override the async methods they need.

    ``config_schema`` validates the ``config`` mapping of the node in the flow file; the validated result is
    ``self.config``. A node with ``has_input = True`` gets one bounded inbox and one worker that calls
    ``on_input`` for each message in order; an exception there is caught, counted and reported with the node
    id and message id, and the node keeps running.
    """

    type: ClassVar[str]
    """The name used in flow files (``type: debug``): lower case, digits and dashes."""
    category: ClassVar[str] = "function"
    """Palette group in the editor: ``input``, ``output``, ``function``, ``network``..."""
    description: ClassVar[str] = ""
    config_schema: ClassVar[vol.Schema] = vol.Schema({})
    has_input: ClassVar[bool] = True
    outputs: ClassVar[tuple[str, ...]] = ("out",)
    """Named output ports, in the order the editor draws them (a type whose ports depend on its config overrides
    :meth:`output_ports`; ``outputs`` then names the ports every instance has)."""
    inbox_size: ClassVar[int] = 1000
    batch_size: ClassVar[int] = 1
    """The most waiting messages the worker hands to :meth:`on_input_batch` in one call. 1 (the default): one
    message at a time to :meth:`on_input`. A type whose per-call cost is high (a sandbox crossing, a write) sets
    more and overrides :meth:`on_input_batch`."""
    close_timeout: ClassVar[float] = 5.0
    drain_timeout: ClassVar[float] = 1.0
    """When the node closes, how long the messages already in its inbox may take to be handled first."""
    connection_fields: ClassVar[tuple[str, ...]] = ()
    """Config keys whose value is a connection id; the flow validator checks they exist."""
    secret_fields: ClassVar[frozenset[str]] = frozenset()
    """Config keys that hold secrets (tokens, passwords): masked by the API, encrypted at rest, never logged."""
    form_labels: ClassVar[Mapping[str, str]] = {}
    """Labels for the editor's form fields, by config key (default: the key, spelt out)."""
    node_fields: ClassVar[tuple[str, ...]] = ()
    """Config keys whose value is the id of another node of the same flow (or a list of ids); the flow validator
    checks they exist."""
    observes: ClassVar[frozenset[str]] = frozenset()
    """Runtime event kinds (``error``, ``status``) of the other nodes of its flow that this type receives through
    :meth:`on_event` (``catch`` and ``status`` nodes)."""

    def __init__(self, node_id: str, config: Mapping[str, Any], context: NodeContext) -> None:
        self.id = node_id
        self.config = config
        self.context = context

    @classmethod
    def output_ports(cls, config: Mapping[str, Any]) -> tuple[str, ...]:
        """The output ports of one node, from its validated config (``switch`` has one per rule). Flow
        validation checks wires against them and ``send`` accepts only them. Default: ``outputs``."""
        return cls.outputs

    @classmethod
    def check_across_flows(
        cls, config: Mapping[str, Any], flow_id: str, flows: Mapping[str, Any]
    ) -> list[tuple[tuple[str | int, ...], str]]:
        """Problems of a validated config that only every flow together shows (``link-out``: a target no flow
        has), as ``(path in the config, message)`` pairs; ``flows`` maps flow ids to ``FlowSpec`` (``nodes``:
        ``id``, ``type``, ``config``). ``flowhost validate`` and ``flowhost run`` report them with FILE:LINE:COL.
        Default: none."""
        return []

    @classmethod
    def has_config_outputs(cls) -> bool:
        """Whether the type overrides :meth:`output_ports` (each node's ports come from its config)."""
        return cls.output_ports.__func__ is not Node.output_ports.__func__  # type: ignore[attr-defined]

    async def start(self) -> None:
        """Called once before the first message; sources start their owned tasks here."""

    async def on_input(self, msg: Message) -> None:
        """Handle one message from the inbox."""

    async def on_input_batch(self, messages: Sequence[Message]) -> None:
        """For a type with :attr:`batch_size` above 1, called in place of :meth:`on_input` with the messages that
        were waiting in the inbox (one to ``batch_size``, in arrival order; the worker never waits to fill a
        batch). Handle each as ``on_input`` would, and report one message's failure with
        ``context.report_error(exc, msg)`` (refusing its receipt, if any) so that the others go on; an exception
        raised here is the failure of every message of the batch. Default: ``on_input`` for each."""
        for msg in messages:
            await self.on_input(msg)

    async def close(self) -> None:
        """Release what ``start`` acquired. Runs under ``close_timeout``."""

    def on_event(self, event: RuntimeEvent, msg: Message | None) -> None:
        """For a type with :attr:`observes`: an event of another node of its flow, with the message that node was
        handling when it happened (None for a task's failure or a start). Called synchronously where the event
        happens: send with ``context.send_nowait`` and never block; an exception here is logged, not reported."""

    async def trigger(self) -> None:
        """Act as if an outside event had happened, by hand: the editor's button on the node and
        ``POST /api/flows/{flow}/nodes/{node}/inject`` call it (``inject`` sends its message). Types that can be
        triggered override it; the default raises :class:`NotTriggerable` (the API answers 409)."""
        raise NotTriggerable(f"node type '{self.type}' cannot be triggered")

    @classmethod
    def can_trigger(cls) -> bool:
        """Whether the type overrides :meth:`trigger`."""
        return cls.trigger is not Node.trigger


class NotTriggerable(Exception):
    """Raised by :meth:`Node.trigger` for a node type that has no use for being triggered by hand."""


class ConnectionContext:
    """What the runtime gives a connection: a logger, owned tasks and a way to announce state changes."""

    connection_id: str
    log: logging.Logger
    templates: SandboxedEnvironment
    data_dir: Path
    """A directory of this connection's own in flowhost's data dir (made, mode 0700, before ``start()``)."""
    active: bool
    """False for a connection configured ``active: false`` (its state is then the type's ``inactive_state``):
    ``start()`` is still called, so that local resources (an outbox) are ready and work can wait for later, but it
    must not connect."""

    def state_changed(self, state: str, error: str | None = None) -> None:
        """Announce a new state (``OPENED``, ``UNREACHABLE``...) with the last error, if any."""
        raise NotImplementedError

    def create_task(self, coro: Awaitable[Any], name: str) -> Any:
        """Start a task the runtime owns: cancelled when the connection stops, its failure reported."""
        raise NotImplementedError


class Connection:
    """A long-lived link shared by the nodes that name it, keyed by ``connector_id`` (ThingPark's
    ``connectorId``). It starts before the nodes that use it and stops after them.
    """

    connector_id: ClassVar[str]
    description: ClassVar[str] = ""
    config_schema: ClassVar[vol.Schema] = vol.Schema({})
    """Validates the ``configuration`` mapping."""
    secret_fields: ClassVar[frozenset[str]] = frozenset()
    """Configuration keys that hold secrets: masked in the API, encrypted at rest, never logged."""
    form_labels: ClassVar[Mapping[str, str]] = {}
    """Labels for the editor's form fields, by configuration key (default: the key, spelt out)."""
    stop_timeout: ClassVar[float] = 5.0
    inactive_state: ClassVar[str] = "INACTIVE"
    """The state announced, before ``start()``, for a connection configured ``active: false``. A type names its
    own (``actility-mqtt-iot``: ThingPark's ``DEACTIVATED``)."""

    @classmethod
    def configuration_schema(cls, templates: SandboxedEnvironment) -> vol.Schema:
        """The schema flow files and the API validate a configuration with. A type whose values are templates
        overrides it to compile them with ``templates``: the host's environment, with the plugins' filters
        (``context.templates`` when it runs). Default: ``config_schema``."""
        return cls.config_schema

    def __init__(
        self, connection_id: str, name: str, configuration: Mapping[str, Any], context: ConnectionContext
    ) -> None:
        self.id = connection_id
        self.name = name
        self.configuration = configuration
        self.context = context
        self.state = "CLOSED"
        self.last_error: str | None = None
        self.counters: dict[str, int] = {}

    async def start(self) -> None:
        """Begin connecting (unless ``context.active`` is false). Should return quickly; connecting goes on in an
        owned task."""

    async def stop(self) -> None:
        """Disconnect and release everything. Runs under ``stop_timeout``."""

    def nodes_started(self) -> None:
        """Called when the nodes that use this connection have started: after the deploy (or API change) that
        started it, and again after one that restarted some of them (at flowhost's start, once every stored flow
        is deployed). A connection that hands received messages to its nodes should start receiving only then:
        a persistent session's queued messages would otherwise arrive before their receiver listens."""

    def snapshot(self) -> dict[str, Any]:
        """State, last error and counters, for the API and the editor."""
        return {"state": self.state, "lastError": self.last_error, "counters": dict(self.counters)}

    # -- dead letters: what a connection could never deliver, for ``/api/connections/{id}/dead-letters`` ------
    keeps_dead_letters: ClassVar[bool] = False
    """True for a type that keeps what it could never deliver and overrides the three methods below; the API
    answers 409 for the others."""

    def dead_letters(self, limit: int, after: int | None) -> tuple[list[Mapping[str, Any]], int | None]:
        """Up to ``limit`` dead letters (JSON objects with an integer ``id``) whose id is above ``after``,
        oldest first, and the id to ask ``after`` for the next page (None on the last one)."""
        raise NotImplementedError

    async def replay_dead_letters(self, ids: Collection[int] | None) -> Mapping[str, Any]:
        """Try these dead letters (all of them for None) again; a JSON object saying what became of them."""
        raise NotImplementedError

    async def delete_dead_letters(self, ids: Collection[int] | None) -> int:
        """Forget these dead letters (all of them for None); returns how many were deleted."""
        raise NotImplementedError
