"""Two flowhost processes on one broker: MQTT 5 shared subscriptions hand each downlink to exactly one."""

from __future__ import annotations

import asyncio
import re
import signal
import textwrap

from flowhost.mqtt import MQTT_5, MQTTClient, TcpEndpoint
from tests.support.flowhost_fixtures import free_port

FLOW = """
flowhost: 1
id: scale
connections:
  - id: broker
    connectorId: actility-mqtt-iot
    configuration:
      uplinkTopicPattern: mqtt/things/{{DevEUI}}/uplink
      downlinkTopicPattern: mqtt/things/{{DevEUI}}/downlink
      hostName: 127.0.0.1:{port}
      protocol: TCP
      mqttVersion: "5"
      sharedSubscriptionGroup: flowhost
      clientId: !env_var FLOWHOST_CLIENT_ID
nodes:
  - id: connector
    type: mqtt-connector
    config: {{connection: broker}}
    wires: {{downlink: [console]}}
  - id: console
    type: debug
    config: {{console: true}}  # the test reads each instance's log
"""
MARK = re.compile(r'"payload_hex":"(\w+)"')


async def publish_downlinks(port: int, numbers: range) -> None:
    client = MQTTClient(TcpEndpoint("127.0.0.1", port), "scale-publisher", protocol_version=MQTT_5)
    await client.connect()
    try:
        acknowledgements = []
        for number in numbers:
            document = f'{{"DevEUI_downlink": {{"FPort": 1, "payload_hex": "{number:08x}"}}}}'
            topic = f"mqtt/things/{0x70B3D5E75E000000 + number % 50:016X}/downlink"
            acknowledgements.append(await client.publish(topic, document, qos=1))
        await asyncio.gather(*acknowledgements)
    finally:
        await client.disconnect()


def seen(process) -> list[int]:
    return [int(match.group(1), 16) for line in process.lines if (match := MARK.search(line))]


async def wait_for_total(processes, total: int, timeout: float = 30) -> None:
    async with asyncio.timeout(timeout):
        while sum(len(seen(process)) for process in processes) < total:
            await asyncio.sleep(0.1)


async def test_each_downlink_is_handled_by_exactly_one_instance(flowhost_process, mosquitto, tmp_path):
    flow = tmp_path / "scale.yaml"
    flow.write_text(textwrap.dedent(FLOW.format(port=mosquitto.tcp_port)))
    instances = []
    for name in ("a", "b"):
        instance = await flowhost_process(
            str(flow),
            "--no-broker",
            "--port",
            str(free_port()),
            "--data-dir",
            str(tmp_path / name),
            env={"FLOWHOST_CLIENT_ID": f"flowhost-scale-{name}"},
        )
        # OPENED comes once the downlink subscription's SUBACK came back: both subscriptions are in place
        await instance.wait_for_line("connection broker: OPENED")
        instances.append(instance)

    await publish_downlinks(mosquitto.tcp_port, range(1000))
    try:
        await wait_for_total(instances, 1000)
    except TimeoutError:
        raise AssertionError("\n".join([*instances[0].lines[-15:], "----", *instances[1].lines[-15:]])) from None
    first, second = (seen(instance) for instance in instances)
    assert sorted(first + second) == list(range(1000))  # each exactly once across the two
    assert first and second  # and both took a share

    stopped, survivor = instances
    stopped.process.send_signal(signal.SIGTERM)
    assert await asyncio.wait_for(stopped.process.wait(), 10) == 0
    before = len(seen(survivor))
    await publish_downlinks(mosquitto.tcp_port, range(1000, 1200))
    async with asyncio.timeout(20):
        while len(seen(survivor)) < before + 200:
            await asyncio.sleep(0.1)
    assert sorted(seen(survivor)[before:]) == list(range(1000, 1200))
