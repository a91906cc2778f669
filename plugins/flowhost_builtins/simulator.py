"""``lorawan-simulator``: ThingPark uplink documents for a set of devices, like ThingPark's loopback tool."""

from __future__ import annotations

import asyncio
import random
from datetime import UTC, datetime

import voluptuous as vol

from flowhost import Message, Node, hookimpl
from flowhost.validation import duration, hex_string

from .thingpark import make_uplink
from .thingpark_fields import dev_eui

MAX_GENERATED_DEVICES = 100_000
# The first DevEUI of the generated ones: an OUI-like prefix that is easy to recognise in a broker.
_GENERATED_BASE = 0x70B3D5E75E000000


def _devices_given(config: dict) -> dict:
    if ("devEUIs" in config) == ("count" in config):
        raise vol.Invalid("give either devEUIs (a list) or count (how many DevEUIs to generate), not both")
    return config


class LorawanSimulator(Node):
    type = "lorawan-simulator"
    category = "input"
    description = (
        "Emits ThingPark DevEUI_uplink documents for the listed DevEUIs (or a count of generated ones) every "
        "interval, with increasing FCntUp, the current Time and realistic radio fields."
    )
    has_input = False
    outputs = ("out",)
    config_schema = vol.Schema(
        vol.All(
            {
                vol.Optional("devEUIs"): vol.All([dev_eui], vol.Length(min=1)),
                vol.Optional("count"): vol.All(int, vol.Range(min=1, max=MAX_GENERATED_DEVICES)),
                vol.Optional("interval", default="10s"): vol.All(duration, vol.Range(min=0.001)),
                vol.Optional("fPort", default=1): vol.All(int, vol.Range(min=1, max=223)),
                vol.Optional("payloadHex"): hex_string,
                vol.Optional("limit"): vol.All(int, vol.Range(min=1)),
                vol.Optional("seed"): int,
            },
            _devices_given,
        )
    )

    async def start(self) -> None:
        config = self.config
        if "devEUIs" in config:
            self._dev_euis = list(config["devEUIs"])
        else:
            self._dev_euis = [f"{_GENERATED_BASE + index:016X}" for index in range(config["count"])]
        self._rng = random.Random(config.get("seed"))
        self._frame_counters = dict.fromkeys(self._dev_euis, 0)
        self.context.status(f"{len(self._dev_euis)} devices every {config['interval']:g}s", "ok")
        self.context.create_task(self._emit_forever(), "emit")

    async def _emit_forever(self) -> None:
        """Spread the devices evenly over the interval, as real devices are, not in one burst."""
        loop = asyncio.get_running_loop()
        interval, limit = self.config["interval"], self.config.get("limit")
        spacing = interval / len(self._dev_euis)
        started, emitted = loop.time(), 0
        while limit is None or emitted < limit:
            device = self._dev_euis[emitted % len(self._dev_euis)]
            delay = started + emitted * spacing - loop.time()
            if delay > 0.001:
                await asyncio.sleep(delay)
            await self.context.send(self._uplink(device))
            emitted += 1
            if delay <= 0.001 and emitted % 100 == 0:
                await asyncio.sleep(0)  # behind schedule: still let the rest of the flow run
        self.context.status(f"done: {emitted} uplinks", "info")

    def _uplink(self, device: str) -> Message:
        frame_counter = self._frame_counters[device]
        self._frame_counters[device] = frame_counter + 1
        payload_hex = self.config.get("payloadHex") or self._sensor_payload()
        document = make_uplink(device, frame_counter, self.config["fPort"], payload_hex, datetime.now(UTC), self._rng)
        self.context.count("sent")
        return Message.create(document, topic=device)

    def _sensor_payload(self) -> str:
        """A temperature (0.1 °C) and humidity (%) reading, as many sensors send."""
        temperature = int(self._rng.gauss(215, 30))
        humidity = max(0, min(100, int(self._rng.gauss(45, 10))))
        return f"01{temperature & 0xFFFF:04x}02{humidity:02x}"


@hookimpl
def flowhost_register_node_types(register):
    register(LorawanSimulator)
