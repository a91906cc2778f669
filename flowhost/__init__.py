"""flowhost: a flow runtime for LoRaWAN integrators, with a ThingPark-style MQTT connector.

Plugin authors need only what this module exports.
"""

from importlib.metadata import PackageNotFoundError, version

import pluggy

from . import _started  # noqa: F401  (first of ours: the time flowhost's start is measured from)
from .message import Message, Receipt, Refusal
from .node import Connection, ConnectionContext, Node, NodeContext
from .web_access import public_route

hookimpl = pluggy.HookimplMarker("flowhost")

try:
    __version__ = version("flowhost")
except PackageNotFoundError:  # running from a source tree that is not installed
    __version__ = "0+unknown"

__all__ = [
    "Connection",
    "ConnectionContext",
    "Message",
    "Node",
    "NodeContext",
    "Receipt",
    "Refusal",
    "__version__",
    "hookimpl",
    "public_route",
]
