"""The downlink sink's HTTP endpoint down for a while: downlinks retried within their bound, then counted failed."""

from __future__ import annotations

import asyncio
import json

from aiohttp import web

from tests.support.flowhost_fixtures import free_port
from tests.support.mqtt_helpers import publish


class FlakySink:
    def __init__(self) -> None:
        self.up = False
        self.attempts = 0
        self.received: list[dict] = []

    async def handle(self, request: web.Request) -> web.Response:
        self.attempts += 1
        if not self.up:
            return web.Response(status=503)
        self.received.append(await request.json())
        return web.Response(status=202)


async def test_a_sink_down_for_a_while(flowhost_process, mosquitto, aiohttp_server, tmp_path):
    sink = FlakySink()
    app = web.Application()
    app.router.add_post("/downlinks", sink.handle)
    server = await aiohttp_server(app)
    flow = {
        "flowhost": 1,
        "id": "sink",
        "connections": [
            {
                "id": "broker",
                "connectorId": "actility-mqtt-iot",
                "configuration": {
                    "uplinkTopicPattern": "sink/{DevEUI}/uplink",
                    "downlinkTopicPattern": "sink/{DevEUI}/downlink",
                    "hostName": f"127.0.0.1:{mosquitto.tcp_port}",
                    "protocol": "TCP",
                },
            }
        ],
        "nodes": [
            {
                "id": "connector",
                "type": "mqtt-connector",
                "config": {"connection": "broker"},
                "wires": {"downlink": ["post"]},
            },
            {
                "id": "post",
                "type": "http-downlink",
                "config": {"url": f"http://127.0.0.1:{server.port}/downlinks", "retries": 2, "retryDelay": "100ms"},
            },
        ],
    }
    (tmp_path / "sink.yaml").write_text(json.dumps(flow))
    process = await flowhost_process(
        str(tmp_path / "sink.yaml"), "--no-broker", "--port", str(free_port()), "--data-dir", str(tmp_path / "d")
    )
    await process.wait_for_line("connection broker: OPENED")
    topic = "sink/78AF580300000345/downlink"
    document = '{{"DevEUI_downlink": {{"FPort": 1, "payload_hex": "{:02x}"}}}}'
    for number in range(3):
        await publish(mosquitto.host, mosquitto.tcp_port, topic, document.format(number))
    async with asyncio.timeout(10):
        while sum("downlink not delivered" in line for line in process.lines) < 3:
            await asyncio.sleep(0.05)
    assert sink.attempts == 9  # each of the 3 tried once and retried twice: bounded
    assert all("HTTP 503" in line for line in process.lines if "downlink not delivered" in line)

    sink.up = True
    for number in range(3, 6):
        await publish(mosquitto.host, mosquitto.tcp_port, topic, document.format(number))
    async with asyncio.timeout(10):
        while len(sink.received) < 3:
            await asyncio.sleep(0.05)
    assert [item["DevEUI_downlink"]["payload_hex"] for item in sink.received] == ["03", "04", "05"]
