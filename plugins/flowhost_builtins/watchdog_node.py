"""``device-watchdog``: the per-device form of ThingPark's low-rate alarm. Each device's expected interval is
given, or learnt from its last uplinks; a ``silent`` message goes out when a device misses it by ``factor``, a
``back`` message when it returns. What it knows of each device is kept in the node's context (one key per
DevEUI, on the runtime's wall clock), so a restart neither forgets the devices nor misses a silence that began
while flowhost was stopped.
"""

from __future__ import annotations

import statistics
from datetime import UTC, datetime
from typing import Any

import voluptuous as vol

from flowhost import Message, Node
from flowhost.context_store import ContextFull
from flowhost.validation import duration_between

from .message_paths import MISSING, message_path, parse_path

MAX_DEVICES = 1_000_000
MIN_GAP = 1.0
"""Uplinks closer than this (one frame heard through two network servers) teach nothing about the interval."""


def _iso(wall_time: float) -> str:
    return datetime.fromtimestamp(wall_time, UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


class DeviceWatchdogNode(Node):
    """Send uplinks in; ``silent`` and ``back`` come out, one message per device and change."""

    type = "device-watchdog"
    category = "function"
    description = (
        "Watches each device (DevEUI) for its expected uplink interval, given or learnt from its last uplinks: "
        "'silent' when it misses it by the factor, 'back' when it returns. Its state survives restarts."
    )
    outputs = ("silent", "back")
    config_schema = vol.Schema(
        {
            vol.Optional("interval", description="expected time between uplinks (default: learnt per device)"): (
                duration_between(1, 90 * 86400)
            ),
            vol.Optional("factor", default=2.0, description="silent after this many intervals without uplink"): (
                vol.All(vol.Coerce(float), vol.Range(min=1.0, max=1000.0))
            ),
            vol.Optional("learnFrom", default=3, description="gaps between uplinks the interval is learnt from"): (
                vol.All(int, vol.Range(min=1, max=20))
            ),
            vol.Optional("checkEvery", default="30s", description="how often silences are looked for"): (
                duration_between(0.1, 3600)
            ),
            vol.Optional("key", default="uplink.DevEUI", description="the field naming the device"): message_path,
            vol.Optional("maxDevices", default=5000, description="devices watched at most"): vol.All(
                int, vol.Range(min=1, max=MAX_DEVICES)
            ),
        }
    )

    async def start(self) -> None:
        self._key = parse_path(self.config["key"])
        self._state = self.context.store("node")
        self._devices: dict[str, dict[str, Any]] = {
            key: dict(value) for key in self._state.keys() if isinstance(value := self._state.get(key), dict)
        }
        self._show_status()
        self.context.create_task(self._watch(), "watch")

    async def on_input(self, msg: Message) -> None:
        dev_eui = self._key.get(msg)
        if dev_eui is MISSING or not isinstance(dev_eui, str) or not dev_eui:
            self.context.count("unkeyed")
            return
        now = self.context.clock.wall_time()
        device = self._devices.get(dev_eui)
        if device is None and len(self._devices) >= self.config["maxDevices"]:
            self.context.count("overflow")
            self.context.status(f"{self.config['maxDevices']} devices: not watching more", "warning")
            return
        gaps = list(device["gaps"]) if device is not None else []
        if device is not None and not device["silent"] and now - device["lastSeen"] >= MIN_GAP:
            gaps = [*gaps, now - device["lastSeen"]][-self.config["learnFrom"] :]  # an outage's gap teaches nothing
        self._devices[dev_eui] = {"lastSeen": now, "gaps": gaps, "silent": False}
        self._state.set(dev_eui, self._devices[dev_eui])
        self.context.count("uplinks")
        if device is not None and device["silent"]:
            self.context.count("back")
            payload = {
                "event": "back",
                "DevEUI": dev_eui,
                "lastSeen": _iso(device["lastSeen"]),
                "silentFor": now - device["lastSeen"],
            }
            self._show_status()
            await self.context.send(Message.create(payload, topic=msg.topic), "back")

    def _interval(self, device: dict[str, Any]) -> float | None:
        if "interval" in self.config:
            return self.config["interval"]
        gaps = device["gaps"]
        return statistics.median(gaps) if len(gaps) >= self.config["learnFrom"] else None

    async def _watch(self) -> None:
        clock, every = self.context.clock, self.config["checkEvery"]
        deadline = clock.now()
        while True:
            deadline += every
            await clock.sleep_until(deadline)
            await self._check(clock.wall_time())

    async def _check(self, now: float) -> None:
        factor = self.config["factor"]
        for dev_eui in list(self._devices):
            device = self._devices[dev_eui]  # read again: an uplink may have come while a silence was sent
            interval = self._interval(device)
            if device["silent"] or interval is None or now - device["lastSeen"] <= interval * factor:
                continue
            device = self._devices[dev_eui] = {**device, "silent": True}
            try:
                self._state.set(dev_eui, device)
            except ContextFull as exc:  # still reported now; only a restart would forget that it was silent
                self.context.report_error(exc)
            self.context.count("silent")
            payload = {
                "event": "silent",
                "DevEUI": dev_eui,
                "lastSeen": _iso(device["lastSeen"]),
                "expectedInterval": interval,
                "silentFor": now - device["lastSeen"],
            }
            await self.context.send(Message.create(payload), "silent")
        self._show_status()  # once a round: new devices show here, not with an event per uplink

    def _show_status(self) -> None:
        silent = sum(1 for device in self._devices.values() if device["silent"])
        self.context.status(f"{len(self._devices)} devices, {silent} silent", "warning" if silent else "ok")
