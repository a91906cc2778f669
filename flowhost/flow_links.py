"""Checks that need every flow at once: a node whose config names nodes of other flows (``link-out``) is checked
against the flows given together (``flowhost validate a.yaml b.yaml``, or the flows ``flowhost run`` loads), and
its errors carry ``FILE:LINE:COL`` as every flow error does."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from .flow_yaml import FlowError, FlowValidationError, position
from .flowfile import FlowSpec, read_flow_file
from .registry import Registry


def check_across_flows(specs: Iterable[FlowSpec], registry: Registry) -> list[FlowError]:
    """Every problem ``Node.check_across_flows`` finds, positioned in the file of the node's flow."""
    flows = {spec.id: spec for spec in specs}
    errors: list[FlowError] = []
    for spec in flows.values():
        root: Any = None
        for node in spec.nodes:
            node_class = registry.node_types.get(node.type)
            if node_class is None:
                continue
            problems = node_class.check_across_flows(node.config, spec.id, flows)
            if not problems:
                continue
            if root is None:
                root = _root(spec)
            index = _index_in_file(root, node.id)
            for config_path, message in problems:
                path = ("nodes", index, "config", *config_path) if index is not None else ()
                line, column = (position(root, path) if root is not None else None) or (None, None)
                source = str(spec.source) if spec.source else None
                prefix = "" if index is not None else f"node {node.id}: "
                errors.append(FlowError(path, prefix + message, source, line, column))
    return errors


def _root(spec: FlowSpec) -> Any:
    if spec.source is None:
        return None
    try:
        return read_flow_file(spec.source)
    except FlowValidationError:
        return None


def _index_in_file(root: Any, node_id: str) -> int | None:
    nodes = root.get("nodes") if isinstance(root, Mapping) else None
    for index, item in enumerate(nodes or []):
        if isinstance(item, Mapping) and item.get("id") == node_id:
            return index
    return None
