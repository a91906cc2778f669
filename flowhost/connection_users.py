"""Which connections a node uses and which running nodes use a connection: the one answer that the runtime, its
read-only view (and through it the API and plugins) share."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any, Protocol, TypeVar

from .node import Node

__all__ = ["RunningNode", "connection_ids_of", "nodes_using"]


class _NodeSpec(Protocol):
    id: str
    config: Mapping[str, Any]


class RunningNode(Protocol):
    """What is read of a running node here (the runtime's runners have it)."""

    flow_id: str
    spec: _NodeSpec
    node_class: type[Node]


Running = TypeVar("Running", bound=RunningNode)


def connection_ids_of(spec: _NodeSpec, node_class: type[Node]) -> set[str]:
    """The ids of the connections a node's config names (its type's ``connection_fields``)."""
    return {spec.config.get(name) for name in node_class.connection_fields} - {None}


def nodes_using(nodes: Iterable[Running], connection_id: str) -> list[Running]:
    """Those of ``nodes`` whose config names the connection ``connection_id``, by flow id and node id."""
    users = [node for node in nodes if connection_id in connection_ids_of(node.spec, node.node_class)]
    return sorted(users, key=lambda node: (node.flow_id, node.spec.id))
