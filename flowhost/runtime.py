"""Starting, redeploying and stopping flows, and the API's own connections, in one lock.

What one node's run takes is in :mod:`flowhost.node_runner`, how messages move in :mod:`flowhost.node_links`,
where events go in :mod:`flowhost.runtime_events`, the running connections in
:mod:`flowhost.runtime_connections` and what a redeploy changes in :mod:`flowhost.redeploy_plan`.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path
from typing import Any

from jinja2.sandbox import SandboxedEnvironment

from .clock import Clock, SystemClock
from .connection_users import connection_ids_of, nodes_using
from .context_store import ContextStore
from .events import RuntimeEvent
from .flowfile import ConnectionSpec, FlowSpec, NodeSpec
from .http_endpoints import HttpEndpoints
from .input_tap import InputTap
from .message import Message
from .node import Connection
from .node_links import wire
from .node_runner import NodeRunner
from .plugins import PluginHost
from .redeploy_plan import RedeployPlan, plan
from .registry import Registry
from .runtime_connections import RunningConnections
from .runtime_events import EventDispatcher, EventListener, Observer, observers_by_kind
from .runtime_view import RuntimeView

__all__ = ["RunningFlow", "Runtime"]

log = logging.getLogger("flowhost.runtime")

HOOK_TIMEOUT = 5.0


class RunningFlow:
    def __init__(self, spec: FlowSpec) -> None:
        self.spec = spec
        self.nodes: dict[str, NodeRunner] = {}
        self.observers: dict[str, list[Observer]] = {}
        """By event kind, the nodes that receive the events of the flow's other nodes (``Node.observes``)."""

    def rewire(self) -> None:
        wire(self.nodes)
        self.observers = observers_by_kind(self.nodes.values())


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
        """A test seam: when set, nodes started afterwards hand each message to it (see
        :data:`flowhost.input_tap.InputTap`) instead of to their ``on_input``; ``None`` (the default) costs nothing."""
        self.flows: dict[str, RunningFlow] = {}
        self._events = EventDispatcher(self.flows, plugins.event_hook())
        self._connections = RunningConnections(registry, templates, data_dir, self.emit)
        self.connections = self._connections.runners
        self.view = RuntimeView(self.flows, self.connections, data_dir)
        """What hooks and plugin routes are given: read-only."""
        self._lock = asyncio.Lock()

    # -- events ---------------------------------------------------------------------------------------------
    def add_listener(self, listener: EventListener) -> None:
        self._events.add_listener(listener)

    def remove_listener(self, listener: EventListener) -> None:
        self._events.remove_listener(listener)

    def emit(self, event: RuntimeEvent, message: Message | None = None) -> None:
        """Tell listeners, plugins and the flow's observing nodes (``message``: what the node was handling)."""
        self._events.emit(event, message)

    # -- lifecycle ------------------------------------------------------------------------------------------
    async def start(self) -> None:
        await self.plugins.call_each_async("flowhost_startup", runtime=self, view=self.view)

    async def stop(self) -> None:
        async with self._lock:
            for flow_id in list(self.flows):
                await self._stop_flow(flow_id)
            await self._connections.stop_all()
            await self.context.close()
        try:
            shutdown = self.plugins.call_each_async("flowhost_shutdown", runtime=self, view=self.view)
            await asyncio.wait_for(shutdown, HOOK_TIMEOUT)
        except TimeoutError:
            log.error("shutdown hooks did not finish within %gs", HOOK_TIMEOUT)

    async def deploy(self, spec: FlowSpec) -> list[str]:
        """Start a flow, or redeploy it restarting only the nodes (and connections) whose setup changed.

        Returns the ids of the nodes that were (re)started.
        """
        async with self._lock:
            previous = self.flows.get(spec.id)
            self._connections.check_owners(spec)
            changes = self._plan(previous.spec if previous else None, spec)
            running = previous or RunningFlow(spec)
            running.spec = spec
            self.flows[spec.id] = running
            self.generation += 1
            retired = [running.nodes.pop(node_id) for node_id in changes.removed]
            retired += self._replace_runners(running, changes.started)
            for node_spec in spec.nodes:
                running.nodes[node_spec.id].spec = node_spec
            running.rewire()
            # Old nodes close (handing what they still hold to their successors) before the connections they
            # used are replaced; the new nodes start after the new connections did.
            await self._close_runners(retired)
            started = await self._connections.apply(spec)
            await self._start_nodes(running, changes.started)
            await self._connections.stop_undefined(flow.spec for flow in self.flows.values())
            changed_users = [running.nodes[node_id] for node_id in changes.started] + retired
            self._connections.announce_nodes_started(started.union(*map(_connection_ids, changed_users)))
            self.generation += 1  # also after: a node that looked others up while starting saw a flow half-built
            to_restart = list(changes.started)
            self.emit(RuntimeEvent("deployed", spec.id, data={"changed": to_restart}))
            log.info("flow %s deployed (%d nodes, %d started)", spec.id, len(spec.nodes), len(to_restart))
            return to_restart

    def _plan(self, old: FlowSpec | None, new: FlowSpec) -> RedeployPlan:
        def connections_of(node: NodeSpec) -> set[str]:
            return connection_ids_of(node, self.registry.node_types[node.type])

        changed_connections = self._connections.changed_by(new, old)
        return plan(old, new, changed_connections=changed_connections, connections_of=connections_of)

    def _replace_runners(self, running: RunningFlow, node_ids: Iterable[str]) -> list[NodeRunner]:
        """Put new runners in place for ``node_ids``; returns the ones they replace (still to be closed)."""
        replaced = []
        source = running.spec.source
        for node_id in node_ids:
            node_spec = running.spec.node(node_id)
            node_class = self.registry.node_types[node_spec.type]
            runner = NodeRunner(self, running.spec.id, node_spec, node_class, source.parent if source else None)
            previous = running.nodes.get(node_id)
            if previous is not None:
                previous.replaced_by = runner if runner.inbox is not None else None
                replaced.append(previous)
            running.nodes[node_id] = runner
        return replaced

    @staticmethod
    async def _close_runners(runners: Iterable[NodeRunner]) -> None:
        for runner in sorted(runners, key=lambda runner: runner.node_class.has_input):  # sources first
            await runner.close()

    async def _start_nodes(self, running: RunningFlow, node_ids: Iterable[str]) -> None:
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
            await self._connections.stop_undefined(flow.spec for flow in self.flows.values())
            # Those still running lost some users.
            self._connections.announce_nodes_started(used & set(self.connections))

    async def _stop_flow(self, flow_id: str) -> None:
        running = self.flows.pop(flow_id, None)
        if running is None:
            return
        self.generation += 1
        await self._close_runners(running.nodes.values())
        self.emit(RuntimeEvent("stopped", flow_id))

    # -- connections ----------------------------------------------------------------------------------------
    async def add_connection(self, spec: ConnectionSpec) -> list[tuple[str, str]]:
        """Start (or restart with a new setup) a connection defined outside any flow (REST API).

        The nodes that use a replaced connection close before it stops and start again after it; other nodes
        are not touched. Returns the restarted ``(flow id, node id)`` pairs.
        """
        async with self._lock:
            current = self.connections.get(spec.id)
            if current is not None and self.connection_owner(spec.id) is not None:
                raise ValueError(f"connection '{spec.id}' is defined by flow {self.connection_owner(spec.id)}")
            if current is not None and current.spec.same_setup(spec):
                current.spec = spec
                current.connection.name = spec.name
                return []
            users = self._users_by_flow(spec.id)
            retired = []
            for flow, node_ids in users:
                retired += self._replace_runners(flow, node_ids)
                flow.rewire()
            await self._close_runners(retired)
            await self._connections.start_or_replace(spec, owner=None)
            for flow, node_ids in users:
                await self._start_nodes(flow, node_ids)
                self.emit(RuntimeEvent("deployed", flow.spec.id, data={"changed": node_ids}))
            self._connections.announce_nodes_started({spec.id})
            return [(flow.spec.id, node_id) for flow, node_ids in users for node_id in node_ids]

    def _users_by_flow(self, connection_id: str) -> list[tuple[RunningFlow, list[str]]]:
        by_flow: dict[str, list[str]] = {}
        for runner in nodes_using(self.iter_nodes(), connection_id):
            by_flow.setdefault(runner.flow_id, []).append(runner.node_id)
        return [(self.flows[flow_id], node_ids) for flow_id, node_ids in by_flow.items()]

    async def remove_connection(self, connection_id: str) -> None:
        """Stop and forget a connection defined through the REST API; refused while a flow uses it."""
        async with self._lock:
            owner = self.connection_owner(connection_id)
            if owner is not None:
                raise ValueError(f"connection '{connection_id}' is defined by flow {owner}")
            users = self.flows_using_connection(connection_id)
            if users:
                raise ValueError(f"connection '{connection_id}' is used by flow(s) {', '.join(users)}")
            await self._connections.stop(connection_id)

    def connection_owner(self, connection_id: str) -> str | None:
        """The id of the flow that defines a running connection; None for the API's own (or unknown) ones."""
        return self._connections.owner(connection_id)

    def connection(self, connection_id: str) -> Connection:
        """The running connection object with this id (KeyError when none runs)."""
        return self._connections.connection(connection_id)

    def holding_nodes_started(self) -> contextlib.AbstractContextManager[None]:
        """Announce ``nodes_started`` to connections only when the block ends: for starting stored connections
        and then the flows that use them, as one step."""
        return self._connections.holding_nodes_started()

    def flows_using_connection(self, connection_id: str) -> list[str]:
        """The ids of the flows with a running node that uses the connection, sorted."""
        return sorted({runner.flow_id for runner in nodes_using(self.iter_nodes(), connection_id)})

    # -- lookups ------------------------------------------------------------------------------------------------
    def node(self, flow_id: str, node_id: str) -> NodeRunner:
        return self.flows[flow_id].nodes[node_id]

    def nodes_of_type(self, node_type: str) -> Mapping[str, Mapping[str, Any]]:
        """``flow/node`` address to config of the running nodes of a type (rebuilt after a deploy)."""
        if self._type_index[0] != self.generation:
            index: dict[str, dict[str, Mapping[str, Any]]] = {}
            for runner in self.iter_nodes():
                index.setdefault(runner.spec.type, {})[runner.owner] = runner.spec.config
            self._type_index = (self.generation, index)
        return self._type_index[1].get(node_type, {})

    def runner_at(self, address: str) -> NodeRunner:
        """The running node at ``flow/node``; LookupError naming the address otherwise."""
        flow_id, _, node_id = address.partition("/")
        running = self.flows.get(flow_id)
        if running is None or node_id not in running.nodes:
            raise LookupError(f"no node {address} is running")
        return running.nodes[node_id]

    def iter_nodes(self) -> Iterator[NodeRunner]:
        for flow in self.flows.values():
            yield from flow.nodes.values()


def _connection_ids(runner: NodeRunner) -> set[str]:
    return connection_ids_of(runner.spec, runner.node_class)
