"""The runtime's test seam: a tap that every node's input handling goes through (``Runtime.input_tap``).

``flowhost test`` records what reaches each node with it. Read once, when a node's worker starts: production,
with no tap, pays nothing per message.
"""

from __future__ import annotations

import functools
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

from .message import Message

__all__ = ["BatchHandler", "InputHandler", "InputTap", "tapped", "tapped_batch"]

InputHandler = Callable[[Message], Awaitable[None]]
BatchHandler = Callable[[Sequence[Message]], Awaitable[None]]
InputTap = Callable[[Any, Message, InputHandler], Awaitable[None]]
"""Called as ``tap(runner, msg, handle=on_input)`` with the node's runner (``flowhost.node_runner.NodeRunner``),
the message it takes and the node's own handler, which it must await."""


def tapped(tap: InputTap | None, runner: Any, handle: InputHandler) -> InputHandler:
    """The handler a node's worker calls: its own, or the tap around it."""
    if tap is None:
        return handle
    return functools.partial(tap, runner, handle=handle)


def tapped_batch(tap: InputTap | None, runner: Any, handle_batch: BatchHandler) -> BatchHandler:
    """The batch handler a batching node's worker calls (``Node.batch_size`` above 1): its own, or one that
    passes each message of the batch through the tap in turn, the node's batch handler awaited innermost, so
    that the tap sees every message and holds each until the whole batch is handled."""
    if tap is None:
        return handle_batch

    async def through_tap(messages: Sequence[Message]) -> None:
        async def from_index(index: int) -> None:
            if index == len(messages):
                await handle_batch(messages)
            else:
                await tap(runner, messages[index], handle=lambda _msg: from_index(index + 1))

        await from_index(0)

    return through_tap
