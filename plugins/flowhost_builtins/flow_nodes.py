"""The plugin ``flow-nodes``: Node-RED's everyday palette for flows of uplinks (routing, changing, timing and
grouping messages), one module per node type."""

from __future__ import annotations

from flowhost import hookimpl

from .switch_node import SwitchNode

NODE_TYPES = (SwitchNode,)


@hookimpl
def flowhost_register_node_types(register):
    for node_type in NODE_TYPES:
        register(node_type)
