"""``dedupe``: drops repeats of a key (by default DevEUI and FCntUp) seen within a window, as when one uplink is
heard through two network servers or two connectors; bounded memory."""

from __future__ import annotations

from collections import OrderedDict

import voluptuous as vol

from flowhost import Message, Node
from flowhost.validation import duration_between

from .message_paths import key_of, key_paths, parse_path

MAX_KEYS = 10_000_000
DEFAULT_KEY = ["uplink.DevEUI", "uplink.FCntUp"]


class DedupeNode(Node):
    """A key (default ``uplink.DevEUI`` and ``uplink.FCntUp``) is remembered for ``window`` after its first
    message; repeats within it go to ``duplicate``. At most ``maxKeys`` are remembered (the oldest forgotten)."""

    type = "dedupe"
    category = "function"
    description = (
        "Passes the first message of each key (default: DevEUI and FCntUp) and sends repeats seen within the "
        "window to 'duplicate': one uplink heard through two network servers goes on once."
    )
    outputs = ("out", "duplicate")
    config_schema = vol.Schema(
        {
            vol.Optional("key", default=list(DEFAULT_KEY), description="the fields that make messages the same"): (
                key_paths
            ),
            vol.Optional("window", default="1m", description="how long a key is remembered"): duration_between(
                0.001, 7 * 86400
            ),
            vol.Optional("maxKeys", default=100_000, description="keys remembered at most (oldest forgotten)"): (
                vol.All(int, vol.Range(min=1, max=MAX_KEYS))
            ),
        }
    )

    async def start(self) -> None:
        self._paths = [parse_path(path) for path in self.config["key"]]
        self._window, self._max_keys = self.config["window"], self.config["maxKeys"]
        # Insertion order is expiry order (one window for all), so expired keys are always at the front.
        self._seen: OrderedDict[bytes, float] = OrderedDict()

    async def on_input(self, msg: Message) -> None:
        now = self.context.clock.now()
        seen = self._seen
        while seen:
            key, expires = next(iter(seen.items()))
            if expires > now:
                break
            del seen[key]
        key = key_of(msg, self._paths)
        if key is None:
            self.context.count("unkeyed")  # not an uplink (no DevEUI or FCntUp): nothing to compare, passed on
            await self.context.send(msg)
            return
        if key in seen:
            self.context.count("duplicates")
            await self.context.send(msg, "duplicate")
            return
        seen[key] = now + self._window
        if len(seen) > self._max_keys:
            seen.popitem(last=False)
            self.context.count("evicted")
        self.context.count("passed")
        await self.context.send(msg)
