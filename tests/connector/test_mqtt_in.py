"""mqtt-in bridges a network server's own broker into a flow; the connector republishes in ThingPark shape."""

from __future__ import annotations

import orjson

from flowhost.flowfile import validate_flow
from tests.support.mqtt_helpers import Subscriber, publish, wait_until
from tests.support.sample_nodes import Collector


def bridge_flow(mosquitto) -> dict:
    configuration = {
        "uplinkTopicPattern": "mqtt/things/{DevEUI}/uplink",
        "hostName": f"127.0.0.1:{mosquitto.tcp_port}",
        "protocol": "TCP",
    }
    return {
        "flowhost": 1,
        "id": "bridge",
        "connections": [{"id": "broker", "connectorId": "actility-mqtt-iot", "configuration": configuration}],
        "nodes": [
            {
                "id": "chirpstack",
                "type": "mqtt-in",
                "config": {"connection": "broker", "topic": "application/+/device/+/event/up"},
                "wires": {"out": ["seen", "connector"]},
            },
            {"id": "connector", "type": "mqtt-connector", "config": {"connection": "broker"}},
            {"id": "seen", "type": "test-collect"},
        ],
    }


async def test_mqtt_in_receives_matching_topics_only_and_parses_json(mosquitto, runtime):
    await runtime.deploy(validate_flow(bridge_flow(mosquitto), runtime.registry))
    connection = runtime.connections["broker"].connection
    await wait_until(lambda: "application/+/device/+/event/up" in connection._client.subscriptions)
    host, port = mosquitto.host, mosquitto.tcp_port
    async with Subscriber(host, port, "mqtt/things/+/uplink", client_id="bridge-sub") as subscriber:
        uplink = {"DevEUI_uplink": {"DevEUI": "0018b20000000b20", "FPort": 1, "payload_hex": "00"}}
        await publish(host, port, "application/7/device/0018b20000000b20/event/up", orjson.dumps(uplink))
        await publish(host, port, "application/7/device/0018b20000000b20/event/join", b"{}")
        await publish(host, port, "application/7/device/0018b20000000b20/event/up", b"\xff not json")
        await wait_until(lambda: len(Collector.received["seen"]) == 2)
        first, second = Collector.received["seen"]
        assert first.topic == "application/7/device/0018b20000000b20/event/up"
        assert first.payload == uplink and first.meta["qos"] == 1
        assert second.payload == b"\xff not json"
        [republished] = await subscriber.wait_for(1)
    assert republished.topic == "mqtt/things/0018B20000000B20/uplink"
    assert orjson.loads(republished.payload) == uplink
    assert runtime.node("bridge", "connector").counters["rejected"] == 1  # the non-JSON one is no uplink


async def test_an_unchanged_uplink_is_republished_byte_for_byte(mosquitto, runtime):
    """The connector publishes what the network server sent, not a re-serialisation of it (key order, spacing
    and number formatting kept); a document the connector reshapes (sendMetadata) is serialised anew."""
    flow = bridge_flow(mosquitto)
    await runtime.deploy(validate_flow(flow, runtime.registry))
    connection = runtime.connections["broker"].connection
    await wait_until(lambda: "application/+/device/+/event/up" in connection._client.subscriptions)
    host, port = mosquitto.host, mosquitto.tcp_port
    sent = b'{ "DevEUI_uplink" : {"FPort": 1, "DevEUI": "0018b20000000b20", "LrrRSSI": -78.50, "payload_hex": "00"} }'
    async with Subscriber(host, port, "mqtt/things/+/uplink", client_id="bytes-sub") as subscriber:
        await publish(host, port, "application/7/device/0018b20000000b20/event/up", sent)
        [republished] = await subscriber.wait_for(1)
    assert republished.payload == sent

    flow["connections"][0]["configuration"]["sendMetadata"] = False
    flow["connections"][0]["configuration"]["sendRawDecodedFormat"] = True
    decoded = b'{"DevEUI_uplink": {"DevEUI": "0018b20000000b20", "payload": {"temperature":  21.5}}}'
    await runtime.deploy(validate_flow(flow, runtime.registry))
    connection = runtime.connections["broker"].connection
    await wait_until(lambda: connection._client is not None and connection._client.is_connected)
    await wait_until(lambda: "application/+/device/+/event/up" in connection._client.subscriptions)
    async with Subscriber(host, port, "mqtt/things/+/uplink", client_id="bytes-sub-2") as subscriber:
        await publish(host, port, "application/7/device/0018b20000000b20/event/up", decoded)
        [republished] = await subscriber.wait_for(1)
    assert republished.payload == b'{"temperature":21.5}'
