"""``inject``: sends a message once at start, every interval, at cron times, or by hand (the editor's button,
``POST /api/flows/{flow}/nodes/{node}/inject``); the payload is literal or a generated ThingPark uplink."""

from __future__ import annotations

import random
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import voluptuous as vol
from croniter import CroniterError, croniter

from flowhost import Message, Node
from flowhost.validation import duration, hex_string

from .thingpark import make_uplink
from .thingpark_fields import dev_eui

MIN_INTERVAL = 0.01
"""Faster than every 10 ms is a load test, not an inject: the simulator does that better."""
_CRON_CHECK_START = datetime(2026, 1, 1)


def cron_expression(value: Any) -> str:
    """Voluptuous validator: five cron fields (minute hour day month weekday), or six with seconds last."""
    if not isinstance(value, str) or not croniter.is_valid(value):
        raise vol.Invalid(
            f"not a cron expression: {value!r}; five fields: minute hour day-of-month month day-of-week "
            "(e.g. '*/15 * * * *', '0 8 * * MON-FRI')"
        )
    try:
        croniter(value, _CRON_CHECK_START).get_next(float)
    except CroniterError as exc:
        raise vol.Invalid(f"cron expression {value!r} never matches: {exc}") from None
    return value


cron_expression.form = {"type": "string", "format": "cron"}  # type: ignore[attr-defined]


def time_zone(value: Any) -> str:
    """Voluptuous validator: an IANA time zone name (``Europe/Paris``, ``UTC``)."""
    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError, TypeError):
        raise vol.Invalid(f"unknown time zone {value!r}; use an IANA name such as Europe/Paris or UTC") from None
    return value


time_zone.form = {"type": "string", "format": "time-zone"}  # type: ignore[attr-defined]


def _one_schedule_and_one_payload(config: dict) -> dict:
    if "interval" in config and "cron" in config:
        raise vol.Invalid("give interval or cron, not both", path=["cron"])
    if "payload" in config and "uplink" in config:
        raise vol.Invalid("give payload or uplink, not both", path=["uplink"])
    return config


_one_schedule_and_one_payload.form = {}  # type: ignore[attr-defined]

UPLINK_SCHEMA = vol.Schema(
    {
        vol.Required("devEUI"): dev_eui,
        vol.Optional("fPort", default=1): vol.All(int, vol.Range(min=1, max=223)),
        vol.Optional("payloadHex", default=""): hex_string,
        vol.Optional("fCntUp", default=0, description="the first frame counter; each injection adds one"): vol.All(
            int, vol.Range(min=0, max=2**32 - 1)
        ),
        vol.Optional("seed", description="makes the radio fields repeatable"): int,
    }
)


class InjectNode(Node):
    """Give ``once``, ``interval`` or ``cron`` (with ``timezone``), or none to send only by hand; ``payload``
    (default: the time in milliseconds) or ``uplink`` (a generated ``DevEUI_uplink`` whose ``FCntUp`` grows by
    one each time). Times come from the runtime's clock, which flow tests advance."""

    type = "inject"
    category = "input"
    description = (
        "Sends a message once at start, every interval, at cron times or by hand (the button, or POST "
        "/api/flows/{flow}/nodes/{node}/inject): a literal payload, or a ThingPark uplink for a DevEUI."
    )
    has_input = False
    outputs = ("out",)
    config_schema = vol.Schema(
        vol.All(
            {
                vol.Optional("once", default=False, description="send once when the flow starts"): bool,
                vol.Optional("interval"): vol.All(duration, vol.Range(min=MIN_INTERVAL)),
                vol.Optional("cron"): cron_expression,
                vol.Optional("timezone", default="UTC", description="the zone cron times are in"): time_zone,
                vol.Optional("limit", description="stop after this many timed messages"): vol.All(
                    int, vol.Range(min=1)
                ),
                vol.Optional("payload", description="the payload (default: the time in milliseconds)"): object,
                vol.Optional("uplink", description="or a ThingPark DevEUI_uplink made for this device"): (
                    UPLINK_SCHEMA
                ),
                vol.Optional("topic"): str,
            },
            _one_schedule_and_one_payload,
        )
    )

    async def start(self) -> None:
        config = self.config
        uplink = config.get("uplink")
        self._frame_counter = uplink["fCntUp"] if uplink else 0
        self._rng = random.Random(uplink.get("seed") if uplink else None)
        self._zone = ZoneInfo(config["timezone"])
        # Read here, not when the task first runs: the schedule counts from the start of the node.
        self._started, self._started_wall = self.context.clock.now(), self.context.clock.wall_time()
        if "interval" in config or "cron" in config or config["once"]:
            self.context.create_task(self._run(), "schedule")
        self.context.status(self._describe(), "ok")

    def _describe(self) -> str:
        config = self.config
        if "interval" in config:
            return f"every {config['interval']:g}s"
        if "cron" in config:
            return f"cron {config['cron']} ({config['timezone']})"
        return "once" if config["once"] else "by hand"

    async def trigger(self) -> None:
        await self._inject()

    async def _run(self) -> None:
        config, clock = self.config, self.context.clock
        if config["once"]:
            await self._inject()
        limit, sent = config.get("limit"), 0
        if "interval" in config:
            deadline = self._started
            while limit is None or sent < limit:
                deadline += config["interval"]
                await clock.sleep_until(deadline)  # absolute deadlines: a slow send does not shift the next
                await self._inject()
                sent += 1
        elif "cron" in config:
            last = self._started_wall
            while limit is None or sent < limit:
                wall = clock.wall_time()
                following = self._next_cron_time(last)
                if following <= wall:  # missed times (a suspended machine) are skipped, not sent in a burst
                    following = self._next_cron_time(wall)
                await clock.sleep_until(clock.now() + (following - wall))
                last = following
                await self._inject()
                sent += 1

    def _next_cron_time(self, after: float) -> float:
        return croniter(self.config["cron"], datetime.fromtimestamp(after, self._zone)).get_next(float)

    async def _inject(self) -> None:
        await self.context.send(self._message())
        self.context.count("injected")

    def _message(self) -> Message:
        config = self.config
        uplink = config.get("uplink")
        if uplink is not None:
            now = datetime.fromtimestamp(self.context.clock.wall_time(), self._zone)
            payload: Any = make_uplink(
                uplink["devEUI"], self._frame_counter, uplink["fPort"], uplink["payloadHex"], now, self._rng
            )
            self._frame_counter = (self._frame_counter + 1) % 2**32
        elif "payload" in config:
            payload = config["payload"]
        else:
            payload = int(self.context.clock.wall_time() * 1000)
        return Message.create(payload, topic=config.get("topic"))
