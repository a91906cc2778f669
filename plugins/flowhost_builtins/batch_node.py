"""``batch``: groups messages by count and/or time, overall or per key, into one message whose payload is the
list of their payloads."""

from __future__ import annotations

import asyncio
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Any

import voluptuous as vol

from flowhost import Message, Node
from flowhost.validation import duration_between

from .message_paths import key_of, key_paths, key_text, parse_path

MAX_COUNT = 100_000
MAX_HELD = 1_000_000
_KEYLESS = b""


def _count_or_timeout(config: dict) -> dict:
    if "count" not in config and "timeout" not in config:
        raise vol.Invalid("give count, timeout or both: when a batch is complete", path=["count"])
    return config


_count_or_timeout.form = {}  # type: ignore[attr-defined]


@dataclass
class _Batch:
    key: bytes
    deadline: float
    messages: list[Message] = field(default_factory=list)


class BatchNode(Node):
    """A batch (one, or one per ``key`` value) goes when ``count`` messages are in it or ``timeout`` after its
    first, as one message whose payload is the list of payloads and whose ``meta.batch`` says why. Past
    ``maxHeld`` messages or ``maxKeys`` open batches, the oldest batch goes early."""

    type = "batch"
    category = "function"
    description = (
        "Groups messages, overall or per key (e.g. each DevEUI), into one message whose payload is the list of "
        "their payloads: when count are gathered, or timeout after a batch's first message."
    )
    outputs = ("out",)
    config_schema = vol.Schema(
        vol.All(
            {
                vol.Optional("count", description="messages in a full batch"): vol.All(
                    int, vol.Range(min=1, max=MAX_COUNT)
                ),
                vol.Optional("timeout", description="a batch goes this long after its first message"): (
                    duration_between(0.001, 7 * 86400)
                ),
                vol.Optional("key", description="a batch for each value of these fields, e.g. uplink.DevEUI"): (
                    key_paths
                ),
                vol.Optional("maxHeld", default=100_000, description="messages held over every batch"): vol.All(
                    int, vol.Range(min=1, max=MAX_HELD)
                ),
                vol.Optional("maxKeys", default=10_000, description="batches open at once"): vol.All(
                    int, vol.Range(min=1, max=MAX_HELD)
                ),
            },
            _count_or_timeout,
        )
    )

    async def start(self) -> None:
        config = self.config
        self._paths = [parse_path(path) for path in config.get("key", ())]
        self._count, self._timeout = config.get("count"), config.get("timeout")
        # Opening order is deadline order (one timeout for all): the first batch is always the next to expire.
        self._open: OrderedDict[bytes, _Batch] = OrderedDict()
        self._held = 0
        self._opened = asyncio.Event()
        if self._timeout is not None:
            self.context.create_task(self._expire(), "timeout")

    async def on_input(self, msg: Message) -> None:
        key = key_of(msg, self._paths) if self._paths else _KEYLESS
        if key is None:
            self.context.count("unkeyed")  # messages without the key fields are batched together
            key = _KEYLESS
        batch = self._open.get(key)
        if batch is None:
            deadline = self.context.clock.now() + (self._timeout or 0.0)
            batch = self._open[key] = _Batch(key, deadline)
            self._opened.set()
        batch.messages.append(msg)
        self._held += 1
        if self._count is not None and len(batch.messages) >= self._count:
            await self._flush(batch, "count")
        if self._held > self.config["maxHeld"] or len(self._open) > self.config["maxKeys"]:
            await self._flush(next(iter(self._open.values())), "full")  # the oldest goes early: nothing is lost

    async def _expire(self) -> None:
        clock = self.context.clock
        while True:
            if not self._open:
                self._opened.clear()
                await self._opened.wait()
                continue
            await clock.sleep_until(next(iter(self._open.values())).deadline)
            now = clock.now()
            while self._open:
                oldest = next(iter(self._open.values()))
                if oldest.deadline > now:
                    break
                await self._flush(oldest, "timeout")

    async def _flush(self, batch: _Batch, reason: str) -> None:
        if self._open.get(batch.key) is not batch:
            return  # already sent (by count while its timeout was due)
        del self._open[batch.key]
        self._held -= len(batch.messages)
        first = batch.messages[0]
        meta: dict[str, Any] = {"batch": {"count": len(batch.messages), "reason": reason}}
        if self._paths:
            meta["batch"]["key"] = key_text(batch.key) if batch.key != _KEYLESS else None
        self.context.count(f"batches by {reason}")
        await self.context.send(Message.create([m.payload for m in batch.messages], topic=first.topic, meta=meta))

    async def close(self) -> None:
        if self._held:
            self.context.count("discarded", self._held)
            self.context.log.info("batch %s: %d held messages discarded on close", self.id, self._held)
