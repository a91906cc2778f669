"""Starting, redeploying and stopping flows: per-node inboxes and workers, owned tasks, error isolation."""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
from collections import Counter
from collections.abc import Awaitable, Callable, Iterable, Iterator, Mapping
from pathlib import Path
from typing import Any

from jinja2.sandbox import SandboxedEnvironment

from .clock import Clock, SystemClock
from .context_store import ContextScope, ContextStore
from .events import RuntimeEvent
from .flowfile import ConnectionSpec, FlowSpec, NodeSpec
from .http_endpoints import Handler, HttpEndpoints
from .message import Message
from .node import Connection, ConnectionContext, Node, NodeContext, StatusLevel
from .permissions import make_private_directory
from .plugins import PluginHost
from .registry import Registry
from .runtime_view import RuntimeView, connection_ids_of

log = logging.getLogger("flowhost.runtime")
node_log = logging.getLogger("flowhost.node")

EventListener = Callable[[RuntimeEvent], None]
InputHandler = Callable[[Message], Awaitable[None]]
InputTap = Callable[["NodeRunner", Message, InputHandler], Awaitable[None]]
"""Wraps every node's input handling (``Runtime.input_tap``): called as ``tap(runner, msg, handle=on_input)``
with the runner, the message it takes and the node's own handler, which it must await. ``flowhost test`` records
what reaches each node with it."""


class OwnedTasks:
    """Tasks that belong to a node or connection: cancelled together, failures reported."""

    def __init__(self, owner: str, on_failure: Callable[[BaseException], None]) -> None:
        self._owner = owner
        self._on_failure = on_failure
        self._tasks: set[asyncio.Task] = set()

    def create(self, coro: Awaitable[Any], name: str) -> asyncio.Task:
        task = asyncio.ensure_future(coro)
        task.set_name(f"{self._owner}:{name}")
        self._tasks.add(task)
        task.add_done_callback(self._done)
        return task

    def _done(self, task: asyncio.Task) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            self._on_failure(task.exception())

    async def cancel_all(self) -> None:
        tasks = list(self._tasks)
        for task in tasks:
            task.cancel()
        if tasks:
            await asyncio.wait(tasks, timeout=5)


class NodeRunner(NodeContext):
    """Runs one node: its context, inbox, worker and counters."""

    def __init__(self, runtime: Runtime, flow_id: str, spec: NodeSpec, node_class: type[Node]) -> None:
        self.runtime = runtime
        self.flow_id = flow_id
        self.node_id = spec.id
        self.spec = spec
        self.node_class = node_class
        self.log = node_log.getChild(f"{flow_id}.{spec.id}")
        self.templates = runtime.templates
        self.clock = runtime.clock
        source = runtime.flows[flow_id].spec.source if flow_id in runtime.flows else None
        self.flow_dir = source.parent if source is not None else None
        self.counters: Counter[str] = Counter()
        self.status_text: str | None = None
        self.status_level: StatusLevel = "info"
        self.targets: dict[str, list[NodeRunner]] = {}
        self.replaced_by: NodeRunner | None = None
        """Set when a redeploy restarts this node: messages still on their way go to the new runner."""
        self._tasks = OwnedTasks(f"{flow_id}.{spec.id}", self._task_failed)
        self._worker: asyncio.Task | None = None
        self.inbox: asyncio.Queue[Message] | None = None
        self.handling: Message | None = None
        """The message ``on_input`` is handling: an error or status change then names it to observers."""
        try:
            self.node: Node = node_class(spec.id, spec.config, self)
        except Exception as exc:  # a plugin's constructor failing must not break the deploy of the others
            self.node = _BrokenNode(spec.id, spec.config, self, exc)
        if node_class.has_input:
            self.inbox = asyncio.Queue(self.node.inbox_size)
        self.ports = self._output_ports()
        """This node's output ports (``Node.output_ports`` of its config)."""

    def _output_ports(self) -> tuple[str, ...]:
        try:
            return self.node_class.output_ports(self.spec.config)
        except Exception:  # flow validation already reported it; this node then sends nowhere
            return ()

    # -- NodeContext ------------------------------------------------------------------------------------------
    async def send(self, msg: Message, port: str = "out") -> None:
        targets = self.targets.get(port)
        if targets is None:
            if port not in self.ports:
                raise ValueError(f"node '{self.node_id}' has no output port '{port}'")
            return
        if msg.receipt is not None:
            msg.receipt.hold(len(targets))
        for target in targets:
            target = target.current()
            inbox = target.inbox
            if inbox.full():
                target.counters["backpressure"] += 1
                await inbox.put(msg)
            else:
                inbox.put_nowait(msg)

    def send_nowait(self, msg: Message, port: str = "out") -> bool:
        targets = self.targets.get(port)
        if targets is None:
            if port not in self.ports:
                raise ValueError(f"node '{self.node_id}' has no output port '{port}'")
            return True
        receivers = []
        for target in targets:
            target = target.current()
            if target.inbox.full():
                return False
            receivers.append(target)
        if msg.receipt is not None:
            msg.receipt.hold(len(receivers))
        for receiver in receivers:
            receiver.inbox.put_nowait(msg)
        return True

    async def put_input(self, msg: Message) -> None:
        """Put ``msg`` into this node's input as a wire does (waits while the inbox is full): how ``flowhost
        test`` sends a test's messages. Raises ValueError for a node without an input."""
        target = self.current()
        if target.inbox is None:
            raise ValueError(f"node '{self.node_id}' ({self.spec.type}) has no input")
        await target.inbox.put(msg)

    def current(self) -> NodeRunner:
        """This runner, or the one that replaced it in a redeploy (messages on their way follow the node)."""
        runner = self
        while runner.replaced_by is not None:
            runner = runner.replaced_by
        return runner

    def status(self, text: str, level: StatusLevel = "info") -> None:
        if (text, level) == (self.status_text, self.status_level):
            return
        self.status_text, self.status_level = text, level
        self.runtime.emit(
            RuntimeEvent(
                "status", self.flow_id, self.node_id, data={"text": text, "level": level, "type": self.spec.type}
            ),
            self.handling,
        )

    def count(self, name: str, amount: int = 1) -> None:
        self.counters[name] += amount

    def create_task(self, coro: Awaitable[Any], name: str) -> asyncio.Task:
        return self._tasks.create(coro, name)

    def connection(self, connection_id: str) -> Connection:
        return self.runtime.connections[connection_id].connection

    def add_http_route(self, method: str, path: str, handler: Handler, *, unauthenticated: bool = False) -> None:
        self.runtime.http.add(
            method, path, handler, owner=f"{self.flow_id}/{self.node_id}", unauthenticated=unauthenticated
        )

    def report_error(self, error: BaseException | str, msg: Message | None = None) -> None:
        self.counters["errors"] += 1
        text = error if isinstance(error, str) else f"{type(error).__name__}: {error}"
        msg = msg if msg is not None else self.handling
        message_id = msg.id if msg is not None else None
        self.log.error(
            "node %s/%s failed%s: %s",
            self.flow_id,
            self.node_id,
            f" on message {message_id}" if msg else "",
            text,
            exc_info=error if isinstance(error, BaseException) else None,
        )
        self.runtime.emit(
            RuntimeEvent(
                "error",
                self.flow_id,
                self.node_id,
                data={"error": text, "message_id": message_id, "type": self.spec.type},
            ),
            msg,
        )

    def show_debug(self, msg: Message, text: str) -> None:
        self.runtime.emit(
            RuntimeEvent(
                "debug",
                self.flow_id,
                self.node_id,
                data={"topic": msg.topic, "payload": text, "message_id": msg.id},
            )
        )

    def store(self, scope: str = "node") -> ContextScope:
        return self.runtime.context.scope(scope, self.flow_id, self.node_id)

    async def deliver(self, address: str, msg: Message) -> None:
        target = self.runtime.runner_at(address).current()
        if target.inbox is None:
            raise LookupError(f"node {address} has no input")
        if msg.receipt is not None:
            msg.receipt.hold()
        if target.inbox.full():
            target.counters["backpressure"] += 1
        await target.inbox.put(msg)

    def find_nodes(self, node_type: str) -> Mapping[str, Mapping[str, Any]]:
        return self.runtime.nodes_of_type(node_type)

    # -- lifecycle --------------------------------------------------------------------------------------------
    async def start(self) -> None:
        try:
            await self.node.start()
        finally:
            # Even a node that failed to start takes its messages (and counts their errors): an inbox that
            # nobody empties would stall every node upstream.
            if self.inbox is not None:
                self._worker = asyncio.create_task(self._work(), name=f"{self.flow_id}.{self.node_id}:worker")

    async def _work(self) -> None:
        inbox, on_input, counters = self.inbox, self.node.on_input, self.counters
        tap = self.runtime.input_tap
        if tap is not None:  # read once, when the worker starts: production pays nothing per message
            on_input = functools.partial(tap, self, handle=self.node.on_input)
        while True:
            # get() only to wait for an empty inbox: a coroutine per message costs more than the message.
            msg = inbox.get_nowait() if inbox.qsize() else await inbox.get()
            self.handling = msg
            try:
                await on_input(msg)
            except asyncio.CancelledError:
                self._refuse(msg, "the node stopped")
                raise
            except Exception as exc:
                self.report_error(exc, msg)
                if msg.receipt is not None:
                    msg.receipt.refuse(f"node {self.node_id} failed: {exc}", retryable=True, node_id=self.node_id)
            else:
                counters["processed"] += 1
            self.handling = None
            if msg.receipt is not None:
                msg.receipt.release()
            inbox.task_done()

    def _refuse(self, msg: Message, reason: str) -> None:
        if msg.receipt is not None:
            msg.receipt.refuse(reason, retryable=True, node_id=self.node_id)
            msg.receipt.release()

    def _task_failed(self, error: BaseException) -> None:
        self.report_error(error)

    async def close(self) -> None:
        if self._worker is not None:
            # What already waits in the inbox is handled first (within drain_timeout), not dropped.
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.inbox.join(), self.node.drain_timeout)
            self._worker.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._worker
            while not self.inbox.empty():
                msg = self.inbox.get_nowait()
                successor = self.replaced_by
                if successor is not None and not successor.inbox.full():
                    successor.inbox.put_nowait(msg)  # its successor takes it, in order, once started
                else:
                    self._refuse(msg, "the node stopped")
        try:
            await asyncio.wait_for(self.node.close(), self.node_class.close_timeout)
        except TimeoutError:
            self.report_error(f"close() did not finish within {self.node_class.close_timeout:g}s")
        except Exception as exc:
            self.report_error(exc)
        await self._tasks.cancel_all()
        self.runtime.http.remove_owner(f"{self.flow_id}/{self.node_id}")

    def snapshot(self) -> dict[str, Any]:
        return {
            "status": {"text": self.status_text, "level": self.status_level} if self.status_text else None,
            "counters": dict(self.counters),
            "queued": self.inbox.qsize() if self.inbox is not None else 0,
            "outputs": list(self.ports),
        }


class _BrokenNode(Node):
    """Stands in for a node whose constructor raised: it fails to start and refuses every message, loudly."""

    def __init__(self, node_id: str, config: Any, context: NodeContext, error: Exception) -> None:
        super().__init__(node_id, config, context)
        self.error = error

    async def start(self) -> None:
        raise self.error

    async def on_input(self, msg: Message) -> None:
        raise RuntimeError(f"the node could not be created: {type(self.error).__name__}: {self.error}")


class ConnectionRunner(ConnectionContext):
    def __init__(self, runtime: Runtime, spec: ConnectionSpec, connection_class: type[Connection]) -> None:
        self.runtime = runtime
        self.connection_id = spec.id
        self.spec = spec
        self.connection_class = connection_class
        self.log = logging.getLogger("flowhost.connection").getChild(spec.id)
        self._tasks = OwnedTasks(f"connection {spec.id}", self._task_failed)
        self.templates = runtime.templates
        self.data_dir = runtime.data_dir / "connections" / spec.id
        self.active = spec.active
        self.connection = connection_class(spec.id, spec.name, spec.configuration, self)

    def state_changed(self, state: str, error: str | None = None) -> None:
        self.connection.state = state
        self.connection.last_error = error
        if error:
            self.log.warning("connection %s: %s (%s)", self.connection_id, state, error)
        else:
            self.log.info("connection %s: %s", self.connection_id, state)
        self.runtime.emit(
            RuntimeEvent("connection_state", connection_id=self.connection_id, data={"state": state, "error": error})
        )

    def create_task(self, coro: Awaitable[Any], name: str) -> asyncio.Task:
        return self._tasks.create(coro, name)

    def _task_failed(self, error: BaseException) -> None:
        self.log.error("connection %s: task failed: %s", self.connection_id, error, exc_info=error)
        self.state_changed(self.connection.state, f"{type(error).__name__}: {error}")

    async def start(self) -> None:
        make_private_directory(self.data_dir)
        await self.connection.start()

    def nodes_started(self) -> None:
        try:
            self.connection.nodes_started()
        except Exception as exc:
            self.log.error("connection %s: nodes_started failed: %s", self.connection_id, exc, exc_info=exc)

    async def stop(self) -> None:
        try:
            await asyncio.wait_for(self.connection.stop(), self.connection_class.stop_timeout)
        except TimeoutError:
            self.log.error(
                "connection %s did not stop within %gs",
                self.connection_id,
                self.connection_class.stop_timeout,
            )
        except Exception as exc:
            self.log.error("connection %s failed to stop: %s", self.connection_id, exc, exc_info=exc)
        await self._tasks.cancel_all()


class RunningFlow:
    def __init__(self, spec: FlowSpec) -> None:
        self.spec = spec
        self.nodes: dict[str, NodeRunner] = {}
        self.observers: dict[str, list[NodeRunner]] = {}
        """By event kind, the nodes that receive the events of the flow's other nodes (``Node.observes``)."""


class Runtime:
    """Owns the running flows and connections. Built by a factory, passed around, never global."""

    def __init__(
        self,
        plugins: PluginHost,
        registry: Registry,
        templates: SandboxedEnvironment,
        data_dir: Path,
        clock: Clock | None = None,
    ) -> None:
        self.plugins = plugins
        self.registry = registry
        self.templates = templates
        self.data_dir = data_dir
        self.clock = clock or SystemClock()
        """The clock every node reads (``context.clock``); a ``ManualClock`` lets tests advance time."""
        self.context = ContextStore(data_dir / "context", self.clock)
        """Node, flow and global state (``NodeContext.store``), written to the data directory in groups."""
        self.generation = 0
        """Grows at every deploy and flow removal: what a node caches about other flows is stale when it changed."""
        self._type_index: tuple[int, dict[str, dict[str, Mapping[str, Any]]]] = (-1, {})
        self.http = HttpEndpoints()
        self.input_tap: InputTap | None = None
        """A test seam: when set, nodes started afterwards hand each message to it (see :data:`InputTap`) instead
        of to their ``on_input``; ``None`` (the default) costs nothing."""
        self.flows: dict[str, RunningFlow] = {}
        self.connections: dict[str, ConnectionRunner] = {}
        self.view = RuntimeView(self.flows, self.connections, data_dir)
        """What hooks and plugin routes are given: read-only."""
        self._connection_owner: dict[str, str | None] = {}
        self._listeners: set[EventListener] = set()
        self._lock = asyncio.Lock()
        self._holding_nodes_started = 0
        self._nodes_started_pending: set[str] = set()

    # -- events ---------------------------------------------------------------------------------------------
    def add_listener(self, listener: EventListener) -> None:
        self._listeners.add(listener)

    def remove_listener(self, listener: EventListener) -> None:
        self._listeners.discard(listener)

    def emit(self, event: RuntimeEvent, message: Message | None = None) -> None:
        """Tell listeners, plugins and the flow's observing nodes (``message``: what the node was handling)."""
        self._notify_observers(event, message)
        for listener in list(self._listeners):
            try:
                listener(event)
            except Exception:
                log.exception("event listener failed")
        for _ in self.plugins.call_each("flowhost_runtime_event", event=event):
            pass

    def _notify_observers(self, event: RuntimeEvent, message: Message | None) -> None:
        running = self.flows.get(event.flow_id) if event.flow_id is not None else None
        for runner in running.observers.get(event.kind, ()) if running is not None else ():
            if runner.node_id == event.node_id:
                continue  # a node's own failures never come back to it: one loop the runtime rules out
            try:
                runner.node.on_event(event, message)
            except Exception:  # not reported as a node error: that would be an event for it again
                log.exception("node %s/%s failed on an event", runner.flow_id, runner.node_id)

    # -- lifecycle ------------------------------------------------------------------------------------------
    async def start(self) -> None:
        await self.plugins.call_each_async("flowhost_startup", runtime=self, view=self.view)

    async def stop(self) -> None:
        async with self._lock:
            for flow_id in list(self.flows):
                await self._stop_flow(flow_id)
            for connection_id in list(self.connections):
                await self._stop_connection(connection_id)
            await self.context.close()
        try:
            await asyncio.wait_for(self.plugins.call_each_async("flowhost_shutdown", runtime=self, view=self.view), 5)
        except TimeoutError:
            log.error("shutdown hooks did not finish within 5s")

    async def deploy(self, spec: FlowSpec) -> list[str]:
        """Start a flow, or redeploy it restarting only the nodes (and connections) whose setup changed.

        Returns the ids of the nodes that were (re)started.
        """
        async with self._lock:
            previous = self.flows.get(spec.id)
            self._check_connection_owners(spec)
            changed_connections = self._changed_connections(spec, previous)
            running = previous or RunningFlow(spec)
            old_specs = {node.id: node for node in previous.spec.nodes} if previous else {}
            new_ids = {node.id for node in spec.nodes}
            to_restart = [
                node.id
                for node in spec.nodes
                if node.id not in old_specs
                or not node.same_setup(old_specs[node.id])
                or _uses_any(node, running.nodes.get(node.id), changed_connections)
            ]
            running.spec = spec
            self.flows[spec.id] = running
            self.generation += 1
            retired = [running.nodes.pop(node_id) for node_id in set(old_specs) - new_ids]
            retired += self._replace_runners(running, to_restart)
            for node_spec in spec.nodes:
                running.nodes[node_spec.id].spec = node_spec
            self._wire(running)
            # Old nodes close (handing what they still hold to their successors) before the connections they
            # used are replaced; the new nodes start after the new connections did.
            await self._close_runners(retired)
            started = await self._apply_connections(spec)
            await self._start_nodes(running, to_restart)
            await self._stop_unused_connections()
            changed_users = [running.nodes[node_id] for node_id in to_restart] + retired
            self._announce_nodes_started(started.union(*map(_connection_ids, changed_users)))
            self.generation += 1  # also after: a node that looked others up while starting saw a flow half-built
            self.emit(RuntimeEvent("deployed", spec.id, data={"changed": to_restart}))
            log.info("flow %s deployed (%d nodes, %d started)", spec.id, len(spec.nodes), len(to_restart))
            return to_restart

    def _replace_runners(self, running: RunningFlow, node_ids: list[str]) -> list[NodeRunner]:
        """Put new runners in place for ``node_ids``; returns the ones they replace (still to be closed)."""
        replaced = []
        for node_id in node_ids:
            node_spec = running.spec.node(node_id)
            runner = NodeRunner(self, running.spec.id, node_spec, self.registry.node_types[node_spec.type])
            previous = running.nodes.get(node_id)
            if previous is not None:
                previous.replaced_by = runner if runner.inbox is not None else None
                replaced.append(previous)
            running.nodes[node_id] = runner
        return replaced

    @staticmethod
    async def _close_runners(runners: list[NodeRunner]) -> None:
        for runner in sorted(runners, key=lambda runner: runner.node_class.has_input):  # sources first
            await runner.close()

    async def _start_nodes(self, running: RunningFlow, node_ids: list[str]) -> None:
        # Receivers start before senders so that nothing is sent to a node that is not listening yet; observers
        # first of all, so that they hear of the others' failures to start.
        def order(node_id: str) -> tuple[bool, bool]:
            node_class = running.nodes[node_id].node_class
            return (not node_class.observes, not node_class.has_input)

        for node_id in sorted(node_ids, key=order):
            runner = running.nodes[node_id]
            try:
                await runner.start()
            except Exception as exc:
                runner.report_error(exc)
                runner.status(f"failed to start: {exc}", "error")

    async def remove_flow(self, flow_id: str) -> None:
        async with self._lock:
            running = self.flows.get(flow_id)
            used = set().union(*map(_connection_ids, running.nodes.values())) if running else set()
            await self._stop_flow(flow_id)
            await self._stop_unused_connections()
            self._announce_nodes_started(used & set(self.connections))  # those still running lost some users

    async def _stop_flow(self, flow_id: str) -> None:
        running = self.flows.pop(flow_id, None)
        if running is None:
            return
        self.generation += 1
        sources_first = sorted(running.nodes.values(), key=lambda runner: runner.node_class.has_input)
        for runner in sources_first:
            await runner.close()
        self.emit(RuntimeEvent("stopped", flow_id))

    # -- connections ----------------------------------------------------------------------------------------
    async def add_connection(self, spec: ConnectionSpec) -> list[tuple[str, str]]:
        """Start (or restart with a new setup) a connection defined outside any flow (REST API).

        The nodes that use a replaced connection close before it stops and start again after it; other nodes
        are not touched. Returns the restarted ``(flow id, node id)`` pairs.
        """
        async with self._lock:
            current = self.connections.get(spec.id)
            if current is not None and self._connection_owner.get(spec.id) is not None:
                raise ValueError(f"connection '{spec.id}' is defined by flow {self._connection_owner[spec.id]}")
            if current is not None and current.spec.same_setup(spec):
                current.spec = spec
                current.connection.name = spec.name
                return []
            users = [
                (flow, [runner.node_id for runner in flow.nodes.values() if spec.id in _connection_ids(runner)])
                for flow in self.flows.values()
            ]
            users = [(flow, node_ids) for flow, node_ids in users if node_ids]
            retired = []
            for flow, node_ids in users:
                retired += self._replace_runners(flow, node_ids)
                self._wire(flow)
            await self._close_runners(retired)
            await self._start_or_replace_connection(spec, owner=None)
            for flow, node_ids in users:
                await self._start_nodes(flow, node_ids)
                self.emit(RuntimeEvent("deployed", flow.spec.id, data={"changed": node_ids}))
            self._announce_nodes_started({spec.id})
            return [(flow.spec.id, node_id) for flow, node_ids in users for node_id in node_ids]

    async def remove_connection(self, connection_id: str) -> None:
        """Stop and forget a connection defined through the REST API; refused while a flow uses it."""
        async with self._lock:
            if self._connection_owner.get(connection_id) is not None:
                raise ValueError(
                    f"connection '{connection_id}' is defined by flow {self._connection_owner[connection_id]}"
                )
            users = self.flows_using_connection(connection_id)
            if users:
                raise ValueError(f"connection '{connection_id}' is used by flow(s) {', '.join(users)}")
            await self._stop_connection(connection_id)

    def connection_owner(self, connection_id: str) -> str | None:
        """The id of the flow that defines a running connection; None for the API's own (or unknown) ones."""
        return self._connection_owner.get(connection_id)

    def _check_connection_owners(self, spec: FlowSpec) -> None:
        for connection in spec.connections:
            owner = self._connection_owner.get(connection.id, spec.id)
            if connection.id in self.connections and owner != spec.id:
                raise ValueError(f"connection '{connection.id}' is already defined by {owner or 'the API'}")

    def _changed_connections(self, spec: FlowSpec, previous: RunningFlow | None) -> set[str]:
        """Ids of this flow's connections that are new, set up differently, or gone."""
        changed = {
            connection.id
            for connection in spec.connections
            if connection.id not in self.connections or not self.connections[connection.id].spec.same_setup(connection)
        }
        if previous is not None:
            changed |= {c.id for c in previous.spec.connections} - {c.id for c in spec.connections}
        return changed

    async def _apply_connections(self, spec: FlowSpec) -> set[str]:
        """Start or replace the flow's connections; returns the ids of those (re)started."""
        started = set()
        for connection in spec.connections:
            if await self._start_or_replace_connection(connection, owner=spec.id):
                started.add(connection.id)
        return started

    @contextlib.contextmanager
    def holding_nodes_started(self) -> Iterator[None]:
        """Announce ``nodes_started`` to connections only when the block ends: for starting stored connections
        and then the flows that use them, as one step."""
        self._holding_nodes_started += 1
        try:
            yield
        finally:
            self._holding_nodes_started -= 1
            self._announce_nodes_started(set())

    def _announce_nodes_started(self, connection_ids: set[str]) -> None:
        self._nodes_started_pending |= connection_ids
        if self._holding_nodes_started:
            return
        pending, self._nodes_started_pending = self._nodes_started_pending, set()
        for connection_id in sorted(pending):
            runner = self.connections.get(connection_id)
            if runner is not None:
                runner.nodes_started()

    async def _start_or_replace_connection(self, spec: ConnectionSpec, owner: str | None) -> bool:
        current = self.connections.get(spec.id)
        if current is not None and current.spec.same_setup(spec):
            current.spec = spec
            return False
        if current is not None:
            await self._stop_connection(spec.id)
        runner = ConnectionRunner(self, spec, self.registry.connection_types[spec.connector_id])
        self.connections[spec.id] = runner
        self._connection_owner[spec.id] = owner
        if not spec.active:
            runner.state_changed(runner.connection_class.inactive_state)
        await runner.start()  # an inactive connection still opens what it keeps locally (see ConnectionContext)
        return True

    async def _stop_connection(self, connection_id: str) -> None:
        runner = self.connections.pop(connection_id, None)
        self._connection_owner.pop(connection_id, None)
        if runner is not None:
            await runner.stop()

    async def _stop_unused_connections(self) -> None:
        defined = {c.id for flow in self.flows.values() for c in flow.spec.connections}
        for connection_id, owner in list(self._connection_owner.items()):
            if owner is not None and connection_id not in defined:
                await self._stop_connection(connection_id)

    def flows_using_connection(self, connection_id: str) -> list[str]:
        return sorted({node.flow_id for node in self.view.nodes_using(connection_id)})

    def _wire(self, running: RunningFlow) -> None:
        for runner in running.nodes.values():
            runner.targets = {
                port: [running.nodes[target] for target in targets if target in running.nodes]
                for port, targets in runner.spec.wires.items()
            }
        running.observers = {}
        for runner in running.nodes.values():
            for kind in runner.node_class.observes:
                running.observers.setdefault(kind, []).append(runner)

    # -- lookups ------------------------------------------------------------------------------------------------
    def node(self, flow_id: str, node_id: str) -> NodeRunner:
        return self.flows[flow_id].nodes[node_id]

    def nodes_of_type(self, node_type: str) -> Mapping[str, Mapping[str, Any]]:
        """``flow/node`` address to config of the running nodes of a type (rebuilt after a deploy)."""
        if self._type_index[0] != self.generation:
            index: dict[str, dict[str, Mapping[str, Any]]] = {}
            for runner in self.iter_nodes():
                index.setdefault(runner.spec.type, {})[f"{runner.flow_id}/{runner.node_id}"] = runner.spec.config
            self._type_index = (self.generation, index)
        return self._type_index[1].get(node_type, {})

    def runner_at(self, address: str) -> NodeRunner:
        """The running node at ``flow/node``; LookupError naming the address otherwise."""
        flow_id, _, node_id = address.partition("/")
        running = self.flows.get(flow_id)
        if running is None or node_id not in running.nodes:
            raise LookupError(f"no node {address} is running")
        return running.nodes[node_id]

    def iter_nodes(self) -> Iterable[NodeRunner]:
        for flow in self.flows.values():
            yield from flow.nodes.values()


def _connection_ids(runner: NodeRunner) -> set[str]:
    return connection_ids_of(runner.spec, runner.node_class)


def _uses_any(spec: NodeSpec, runner: NodeRunner | None, connection_ids: set[str]) -> bool:
    if runner is None or not connection_ids:
        return False
    return bool(connection_ids_of(spec, runner.node_class) & connection_ids)
