"""The runtime's test seam: a tap that every node's input handling goes through (``Runtime.input_tap``).

``flowhost test`` records what reaches each node with it. Read once, when a node's worker starts: production,
with no tap, pays nothing per message.
"""

from __future__ import annotations

import functools
from collections.abc import Awaitable, Callable
from typing import Any

from .message import Message

__all__ = ["InputHandler", "InputTap", "tapped"]

InputHandler = Callable[[Message], Awaitable[None]]
InputTap = Callable[[Any, Message, InputHandler], Awaitable[None]]
"""Called as ``tap(runner, msg, handle=on_input)`` with the node's runner (``flowhost.node_runner.NodeRunner``),
the message it takes and the node's own handler, which it must await."""


def tapped(tap: InputTap | None, runner: Any, handle: InputHandler) -> InputHandler:
    """The handler a node's worker calls: its own, or the tap around it."""
    if tap is None:
        return handle
    return functools.partial(tap, runner, handle=handle)
