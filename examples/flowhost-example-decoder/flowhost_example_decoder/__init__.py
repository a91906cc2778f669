"""An example flowhost plugin: a device driver as a node type, a template filter, a route and an observer."""

from __future__ import annotations

import json
import sys
from collections import Counter

import voluptuous as vol
from aiohttp import web

from flowhost import Message, Node, hookimpl

DRIVER_ID = "example:temp-hum:1"
STATS: Counter[str] = Counter()


def decode(payload_hex: str) -> dict[str, float | int]:
    """``01 TTTT 02 HH``: a signed temperature in tenths of a degree, then a humidity percentage."""
    data = bytes.fromhex(payload_hex)
    if len(data) != 5 or data[0] != 0x01 or data[3] != 0x02:
        raise ValueError(f"not a temperature/humidity frame: {payload_hex!r}")
    temperature = int.from_bytes(data[1:3], "big", signed=True) / 10
    return {"temperature": temperature, "humidity": data[4]}


class TempHumDecoder(Node):
    type = "temp-hum-decoder"
    category = "function"
    description = "Decodes a temperature/humidity sensor's payload_hex into the uplink's decoded payload."
    outputs = ("out",)
    config_schema = vol.Schema({vol.Optional("fPort"): vol.All(int, vol.Range(min=1, max=223))})

    async def on_input(self, msg: Message) -> None:
        document = msg.payload.thaw()
        fields = document.get("DevEUI_uplink", document)
        if "fPort" in self.config and int(fields.get("FPort", -1)) != self.config["fPort"]:
            await self.context.send(msg)
            return
        fields["payload"] = decode(fields["payload_hex"])  # a ValueError is counted and reported by flowhost
        fields["DriverCfg"] = {"id": DRIVER_ID}
        STATS["decoded"] += 1
        await self.context.send(msg.derive(payload=document))


def celsius_band(temperature: float) -> str:
    return "cold" if temperature < 15 else "hot" if temperature > 26 else "mild"


async def stats(request: web.Request) -> web.Response:
    return web.json_response(dict(STATS))


@hookimpl
def flowhost_register_node_types(register):
    register(TempHumDecoder)


def _decode_command(args) -> int:
    try:
        print(json.dumps(decode(args.payload_hex)))
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    return 0


@hookimpl
def flowhost_register_commands(subcommands):
    parser = subcommands.add_parser("decode-temp-hum", help="decode a temperature/humidity payload_hex")
    parser.add_argument("payload_hex")
    parser.set_defaults(handler=_decode_command)


@hookimpl
def flowhost_prepare_template_environment(environment):
    environment.filters["celsius_band"] = celsius_band


@hookimpl
def flowhost_web_routes():
    return [web.get("/plugins/example-decoder/stats", stats)]


@hookimpl
def flowhost_runtime_event(event):
    if event.kind == "error":
        STATS["errors seen"] += 1


@hookimpl
def flowhost_startup(runtime):
    STATS.clear()


@hookimpl
def flowhost_shutdown(runtime):
    STATS["shutdowns"] += 1
