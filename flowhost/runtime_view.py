"""What hooks and plugin routes see of the runtime: a read-only view, not ``Runtime`` itself.

The view reads the running state each time it is asked (a route handler sees the current flows), hands out no
object a plugin could use to change it (nodes are :class:`NodeView` copies without their secret fields) and
imports nothing of ``flowhost.runtime``, so that the hook specifications do not depend on the runtime.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType
from typing import Any, Protocol, TypeVar

from .connection_users import nodes_using
from .node import Connection, Node

__all__ = ["FlowView", "NodeView", "RuntimeView"]


@dataclass(frozen=True, slots=True)
class NodeView:
    """A running node as a plugin sees it."""

    flow_id: str
    node_id: str
    type: str
    config: Mapping[str, Any]
    """The validated config, read-only, without the type's ``secret_fields``."""
    status: str | None = None
    """The node's status line (``context.status``), None before it set one."""


@dataclass(frozen=True, slots=True)
class FlowView:
    """A deployed flow: its id, label and running nodes."""

    id: str
    label: str
    nodes: tuple[NodeView, ...]


# What the view reads of the runtime's records, described here so that it needs no import of them.
class _NodeSpec(Protocol):
    id: str
    config: Mapping[str, Any]


class _FlowSpec(Protocol):
    label: str


class _RunningNode(Protocol):
    flow_id: str
    spec: _NodeSpec
    node_class: type[Node]
    node: Node
    status_text: str | None


class _RunningFlow(Protocol):
    spec: _FlowSpec

    @property
    def nodes(self) -> Mapping[str, _RunningNode]: ...


class _RunningConnection(Protocol):
    @property
    def connection(self) -> Connection: ...


def _node_view(node: _RunningNode) -> NodeView:
    secret = node.node_class.secret_fields
    config = {key: value for key, value in node.spec.config.items() if key not in secret}
    return NodeView(node.flow_id, node.spec.id, node.node_class.type, MappingProxyType(config), node.status_text)


OwnNode = TypeVar("OwnNode", bound=Node)


class RuntimeView:
    """Connections by id, the nodes that use a connection, and the deployed flows, read when asked."""

    def __init__(
        self, flows: Mapping[str, _RunningFlow], connections: Mapping[str, _RunningConnection], data_dir: Path
    ) -> None:
        self._flows = flows
        self._connections = connections
        self._data_dir = data_dir

    @property
    def data_dir(self) -> Path:
        """flowhost's data directory (a plugin keeps its files in a directory of its own name there)."""
        return self._data_dir

    def connection(self, connection_id: str) -> Connection | None:
        """The running connection with this id (a :class:`flowhost.Connection`), or None."""
        runner = self._connections.get(connection_id)
        return runner.connection if runner is not None else None

    def connection_ids(self) -> list[str]:
        """The ids of the running connections, sorted."""
        return sorted(self._connections)

    def nodes_using(self, connection_id: str) -> list[NodeView]:
        """The running nodes whose config names this connection, by flow and node id."""
        return [_node_view(node) for node in nodes_using(self._running_nodes(), connection_id)]

    def node(self, flow_id: str, node_id: str) -> NodeView | None:
        """The running node ``node_id`` of flow ``flow_id``, or None."""
        running = self._running_node(flow_id, node_id)
        return _node_view(running) if running is not None else None

    def node_object(self, flow_id: str, node_id: str, node_class: type[OwnNode]) -> OwnNode | None:
        """The running node object itself, when it is an instance of ``node_class``; else None.

        For a plugin's routes that ask its own type's nodes something (``codec``'s try-a-codec route): pass your
        own class, so that you only ever get the nodes whose attributes you define."""
        running = self._running_node(flow_id, node_id)
        node = running.node if running is not None else None
        return node if isinstance(node, node_class) else None

    def flows(self) -> dict[str, FlowView]:
        """The deployed flows by id."""
        return {
            flow_id: FlowView(flow_id, flow.spec.label, tuple(_node_view(node) for node in flow.nodes.values()))
            for flow_id, flow in self._flows.items()
        }

    def _running_node(self, flow_id: str, node_id: str) -> _RunningNode | None:
        flow = self._flows.get(flow_id)
        return flow.nodes.get(node_id) if flow is not None else None

    def _running_nodes(self) -> Iterator[_RunningNode]:
        for flow in self._flows.values():
            yield from flow.nodes.values()
