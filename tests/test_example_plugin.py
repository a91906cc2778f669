"""The example third-party plugin, installed as its own distribution, used by a flow."""

from __future__ import annotations

import asyncio
import sys
from asyncio.subprocess import PIPE

import pytest

from flowhost.app import create_web_app
from tests.support.mqtt_helpers import Subscriber
from tests.support.sample_nodes import Collector

FLOW = """
flowhost: 1
id: decoded
nodes:
  - id: devices
    type: lorawan-simulator
    config: {devEUIs: [78AF580300000345], interval: 10ms, payloadHex: 0100e7022d, limit: 3}
    wires: {out: [decoder]}
  - id: decoder
    type: temp-hum-decoder
    wires: {out: [sink]}
  - id: sink
    type: test-collect
"""


@pytest.fixture(autouse=True)
def _clean():
    Collector.received.clear()


async def wait_until(condition, timeout=5.0):
    async with asyncio.timeout(timeout):
        while not condition():
            await asyncio.sleep(0.01)


async def test_flowhost_register_node_types_of_an_installed_distribution_decodes_uplinks(runtime, load_flow):
    await runtime.deploy(load_flow(FLOW))
    await wait_until(lambda: len(Collector.received["sink"]) == 3)
    fields = Collector.received["sink"][0].payload["DevEUI_uplink"]
    assert fields["payload"] == {"temperature": 23.1, "humidity": 45}
    assert fields["DriverCfg"] == {"id": "example:temp-hum:1"}
    assert [int(m.payload["DevEUI_uplink"]["FCntUp"]) for m in Collector.received["sink"]] == [0, 1, 2]


async def test_flowhost_prepare_template_environment_adds_the_plugins_filter(runtime):
    template = runtime.templates.from_string("{{ t | celsius_band }}")
    assert [template.render(t=t) for t in (3, 20, 30)] == ["cold", "mild", "hot"]


async def test_a_topic_pattern_may_use_the_plugins_filter_in_a_flow_file(runtime, load_flow, write_flow, mosquitto):
    """Validation compiles topic patterns with the plugins' filters, as the running connection does: a flow that
    uses one validates (`flowhost validate` too) and publishes on the topic it makes."""
    text = f"""
flowhost: 1
id: banded
connections:
  - id: broker
    connectorId: actility-mqtt-iot
    configuration:
      hostName: 127.0.0.1:{mosquitto.tcp_port}
      protocol: TCP
      uplinkTopicPattern: "rooms/{{{{ payload.temperature | celsius_band }}}}/{{DevEUI}}"
nodes:
  - id: devices
    type: lorawan-simulator
    config: {{devEUIs: [78AF580300000345], interval: 10ms, payloadHex: 0100e7022d, limit: 1}}
    wires: {{out: [decoder]}}
  - id: decoder
    type: temp-hum-decoder
    wires: {{out: [connector]}}
  - id: connector
    type: mqtt-connector
    config: {{connection: broker}}
"""
    validate = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "flowhost", "validate", str(write_flow(text, "banded.yaml")), stdout=PIPE, stderr=PIPE
    )
    _, errors = await validate.communicate()
    assert validate.returncode == 0, errors.decode()
    async with Subscriber(mosquitto.host, mosquitto.tcp_port, "rooms/#", client_id="banded-sub") as subscriber:
        await runtime.deploy(load_flow(text))
        [message] = await subscriber.wait_for(1)
    assert message.topic == "rooms/mild/78AF580300000345"  # 23.1 degrees


@pytest.mark.expect_node_errors
async def test_flowhost_web_routes_and_flowhost_runtime_event_of_the_plugin(runtime, load_flow, aiohttp_client):
    client = await aiohttp_client(create_web_app(runtime, token="example-token"))
    await runtime.deploy(load_flow(FLOW.replace("0100e7022d", "ffff")))  # not a temp/hum frame: 3 errors
    await wait_until(lambda: runtime.node("decoded", "decoder").counters["errors"] == 3)
    assert (await client.get("/plugins/example-decoder/stats")).status == 401  # plugin routes need the token
    response = await client.get("/plugins/example-decoder/stats", headers={"Authorization": "Bearer example-token"})
    assert response.status == 200
    assert (await response.json())["errors seen"] == 3
