"""``delay``: holds each message for a fixed time, in order, in a bounded queue."""

from __future__ import annotations

import asyncio
from collections import deque

import voluptuous as vol

from flowhost import Message, Node
from flowhost.validation import duration_between

MAX_QUEUED = 1_000_000


class DelayNode(Node):
    """Every message waits ``delay``, in order; at most ``maxQueued`` wait (more are dropped, counted
    ``overflow``)."""

    type = "delay"
    category = "function"
    description = (
        "Holds each message for a fixed time and sends it on, in order; a full queue drops what comes (counted)."
    )
    outputs = ("out",)
    config_schema = vol.Schema(
        {
            vol.Required("delay"): duration_between(0.001, 7 * 86400),
            vol.Optional("maxQueued", default=10_000, description="messages held at most; more are dropped"): (
                vol.All(int, vol.Range(min=1, max=MAX_QUEUED))
            ),
        }
    )

    async def start(self) -> None:
        self._queue: deque[tuple[float, Message]] = deque()
        self._arrived = asyncio.Event()
        self._warned = False
        self.context.create_task(self._release(), "release")

    async def on_input(self, msg: Message) -> None:
        if len(self._queue) >= self.config["maxQueued"]:
            self.context.count("overflow")
            if not self._warned:
                self._warned = True
                self.context.status(f"queue full ({self.config['maxQueued']}): dropping", "warning")
            return
        self._queue.append((self.context.clock.now() + self.config["delay"], msg))
        self._arrived.set()

    async def _release(self) -> None:
        queue, clock = self._queue, self.context.clock
        while True:
            if not queue:
                self._arrived.clear()
                await self._arrived.wait()
                continue
            # The delay is the same for every message, so the queue is in due order: only its head waits.
            await clock.sleep_until(queue[0][0])
            _, msg = queue.popleft()
            await self.context.send(msg)
            self.context.count("sent")
            if self._warned:
                self._warned = False
                self.context.status("queue has room again", "ok")

    async def close(self) -> None:
        if self._queue:
            self.context.count("discarded", len(self._queue))
            self.context.log.info("delay %s: %d held messages discarded on close", self.id, len(self._queue))
