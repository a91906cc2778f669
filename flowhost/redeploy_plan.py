"""What a redeploy does to each node, decided from the old and the new flow alone (no running state).

As Node-RED's diff: a node whose setup (type, config, name) is unchanged keeps running, even when its wires or
the editor's layout changed; only nodes that are new, set up differently, or use a connection that changed are
(re)started.
"""

from __future__ import annotations

from collections.abc import Callable, Collection
from dataclasses import dataclass

from .flowfile import FlowSpec, NodeSpec

__all__ = ["RedeployPlan", "plan"]


@dataclass(frozen=True, slots=True)
class RedeployPlan:
    """The node ids of a redeploy, each tuple in the order of its flow."""

    added: tuple[str, ...]
    """In the new flow only: started."""
    changed: tuple[str, ...]
    """In both, set up differently or using a changed connection: restarted (queued messages go to the new one)."""
    removed: tuple[str, ...]
    """In the old flow only: stopped."""
    rewired: tuple[str, ...]
    """In both and kept running, with other wires than before."""
    started: tuple[str, ...]
    """``added`` and ``changed`` together, in the new flow's order: the nodes the redeploy starts."""


def _no_connections(spec: NodeSpec) -> Collection[str]:
    return ()


def plan(
    old: FlowSpec | None,
    new: FlowSpec,
    *,
    changed_connections: Collection[str] = (),
    connections_of: Callable[[NodeSpec], Collection[str]] = _no_connections,
) -> RedeployPlan:
    """Compare ``old`` (None for a first deploy) with ``new``.

    ``changed_connections`` are the ids of connections that are replaced by this deploy; a kept node that uses
    one of them (``connections_of(node)``: the ids its config names) restarts with it.
    """
    old_nodes = {node.id: node for node in old.nodes} if old is not None else {}
    new_ids = {node.id for node in new.nodes}
    changed_set = set(changed_connections)
    added, changed, rewired, started = [], [], [], []
    for node in new.nodes:
        before = old_nodes.get(node.id)
        if before is None:
            added.append(node.id)
        elif not node.same_setup(before) or changed_set.intersection(connections_of(node)):
            changed.append(node.id)
        else:
            if node.wires != before.wires:
                rewired.append(node.id)
            continue
        started.append(node.id)
    removed = tuple(node_id for node_id in old_nodes if node_id not in new_ids)
    return RedeployPlan(tuple(added), tuple(changed), removed, tuple(rewired), tuple(started))
