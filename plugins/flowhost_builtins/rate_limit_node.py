"""``rate-limit``: at most ``rate`` messages ``per`` interval, overall or per key (a DevEUI); what goes over the
rate is queued (bounded) or dropped, and counted."""

from __future__ import annotations

from collections import OrderedDict, deque
from typing import Any

import voluptuous as vol

from flowhost import Message, Node
from flowhost.validation import duration_between

from .message_paths import key_of, key_paths, parse_path

MAX_QUEUED = 1_000_000
MAX_KEYS = 1_000_000
_EVICTION_SCAN = 16
"""Least recently used buckets looked at for one that can go when a new key needs room."""
_EPSILON = 1e-9
_MIN_WAIT = 1e-6
"""A wait shorter than this could round to no wait at all on a large clock reading, and spin."""
_KEYLESS = b""


class _Bucket:
    """A token bucket: ``rate`` tokens at most, refilled at ``rate`` per ``per`` seconds; one token a message."""

    __slots__ = ("queue", "tokens", "updated", "worker")

    def __init__(self, capacity: float, now: float) -> None:
        self.tokens = capacity
        self.updated = now
        self.queue: deque[Message] = deque()
        self.worker: Any = None

    def refill(self, now: float, capacity: float, per_second: float) -> None:
        self.tokens = min(capacity, self.tokens + (now - self.updated) * per_second)
        self.updated = now

    def idle(self) -> bool:
        return not self.queue and self.worker is None


class RateLimitNode(Node):
    """A token bucket for all messages or for each value of ``key`` (``uplink.DevEUI``): ``rate`` messages (the
    burst) per ``per``. Over the rate, ``queue`` sends later in order and ``drop`` drops; queues and the key
    table are bounded (``maxQueued``, ``maxKeys``) and every case is counted."""

    type = "rate-limit"
    category = "function"
    description = (
        "Lets at most 'rate' messages through per interval, overall or per key (e.g. each DevEUI); the others "
        "wait in a bounded queue or are dropped, and are counted."
    )
    outputs = ("out",)
    config_schema = vol.Schema(
        {
            vol.Required("rate", description="messages let through per interval (also the burst)"): vol.All(
                int, vol.Range(min=1, max=1_000_000)
            ),
            vol.Optional("per", default="1s"): duration_between(0.001, 7 * 86400),
            vol.Optional("key", description="a rate for each value of these fields, e.g. uplink.DevEUI"): key_paths,
            vol.Optional("overLimit", default="queue"): vol.In(
                {"queue": "queue (sent when the rate allows)", "drop": "drop"}
            ),
            vol.Optional("maxQueued", default=10_000, description="queued messages at most, over every key"): vol.All(
                int, vol.Range(min=1, max=MAX_QUEUED)
            ),
            vol.Optional("maxKeys", default=10_000, description="keys remembered at most"): vol.All(
                int, vol.Range(min=1, max=MAX_KEYS)
            ),
        }
    )

    async def start(self) -> None:
        config = self.config
        self._capacity = float(config["rate"])
        self._per_second = config["rate"] / config["per"]
        self._paths = [parse_path(path) for path in config.get("key", ())]
        self._buckets: OrderedDict[bytes, _Bucket] = OrderedDict()
        self._queued = 0

    async def on_input(self, msg: Message) -> None:
        key = key_of(msg, self._paths) if self._paths else _KEYLESS
        if key is None:
            self.context.count("unkeyed")  # messages without the key fields share one rate
            key = _KEYLESS
        bucket = self._bucket(key)
        if bucket is None:
            self.context.count("overflow")
            return
        if bucket.idle() and self._take(bucket):  # a busy bucket keeps the order: the new one queues
            self.context.count("passed")
            await self.context.send(msg)
        elif self.config["overLimit"] == "drop":
            self.context.count("dropped")
        elif self._queued >= self.config["maxQueued"]:
            self.context.count("overflow")
        else:
            bucket.queue.append(msg)
            self._queued += 1
            self.context.count("queued")
            if bucket.worker is None:
                bucket.worker = self.context.create_task(self._drain(bucket), "drain")

    def _take(self, bucket: _Bucket) -> bool:
        bucket.refill(self.context.clock.now(), self._capacity, self._per_second)
        if bucket.tokens >= 1 - _EPSILON:
            bucket.tokens -= 1
            return True
        return False

    def _bucket(self, key: bytes) -> _Bucket | None:
        """The key's bucket (most recently used last); None when every bucket is busy and none can go."""
        buckets = self._buckets
        bucket = buckets.get(key)
        if bucket is not None:
            buckets.move_to_end(key)
            return bucket
        if len(buckets) >= self.config["maxKeys"] and not self._evict_one():
            return None
        bucket = buckets[key] = _Bucket(self._capacity, self.context.clock.now())
        return bucket

    def _evict_one(self) -> bool:
        """Forget an idle bucket among the least recently used: its key starts again with a full bucket."""
        for count, (key, bucket) in enumerate(self._buckets.items()):
            if count >= _EVICTION_SCAN:
                return False
            if bucket.idle():
                del self._buckets[key]
                self.context.count("evicted")
                return True
        return False

    async def _drain(self, bucket: _Bucket) -> None:
        """Sends one key's queued messages, in order, as its tokens come back."""
        clock = self.context.clock
        try:
            while bucket.queue:
                if not self._take(bucket):
                    wait = max(_MIN_WAIT, (1 - bucket.tokens) / self._per_second)
                    await clock.sleep_until(clock.now() + wait)
                    continue
                msg = bucket.queue.popleft()
                self._queued -= 1
                self.context.count("passed")
                await self.context.send(msg)
        finally:
            bucket.worker = None

    async def close(self) -> None:
        if self._queued:
            self.context.count("discarded", self._queued)
            self.context.log.info("rate-limit %s: %d queued messages discarded on close", self.id, self._queued)
