"""The plugin ``flow-nodes``: Node-RED's everyday palette for flows of uplinks (routing, changing, timing and
grouping messages), one module per node type."""

from __future__ import annotations

from flowhost import hookimpl

from .batch_node import BatchNode
from .change_node import ChangeNode
from .dedupe_node import DedupeNode
from .delay_node import DelayNode
from .inject_node import InjectNode
from .link_nodes import LinkInNode, LinkOutNode
from .observer_nodes import CatchNode, StatusNode
from .rate_limit_node import RateLimitNode
from .switch_node import SwitchNode
from .template_node import TemplateNode
from .watchdog_node import DeviceWatchdogNode

NODE_TYPES = (
    SwitchNode,
    ChangeNode,
    TemplateNode,
    InjectNode,
    DelayNode,
    RateLimitNode,
    DedupeNode,
    BatchNode,
    CatchNode,
    StatusNode,
    LinkOutNode,
    LinkInNode,
    DeviceWatchdogNode,
)


@hookimpl
def flowhost_register_node_types(register):
    for node_type in NODE_TYPES:
        register(node_type)
