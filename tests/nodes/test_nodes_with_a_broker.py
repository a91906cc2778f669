"""The function nodes in a real flow: one uplink heard through two network servers' topics on a real Mosquitto
goes on once (dedupe), is routed by FPort (switch), changed (change) and republished by the connector."""

from __future__ import annotations

import orjson

from flowhost.flowfile import validate_flow
from tests.support.mqtt_helpers import Subscriber, publish, wait_until
from tests.support.sample_nodes import Collector

DEVICE = "78AF580300000345"


def flow(mosquitto) -> dict:
    configuration = {
        "uplinkTopicPattern": "mqtt/things/{DevEUI}/uplink",
        "hostName": f"127.0.0.1:{mosquitto.tcp_port}",
        "protocol": "TCP",
    }
    return {
        "flowhost": 1,
        "id": "sites",
        "connections": [{"id": "broker", "connectorId": "actility-mqtt-iot", "configuration": configuration}],
        "nodes": [
            {"id": "ns1", "type": "mqtt-in", "config": {"connection": "broker", "topic": "ns1/+/up"},
             "wires": {"out": ["once"]}},
            {"id": "ns2", "type": "mqtt-in", "config": {"connection": "broker", "topic": "ns2/+/up"},
             "wires": {"out": ["once"]}},
            {"id": "once", "type": "dedupe", "config": {"window": "1m"},
             "wires": {"out": ["route"], "duplicate": ["repeats"]}},
            {"id": "route", "type": "switch",
             "config": {"property": "uplink.FPort", "rules": [{"name": "alarm", "operator": "==", "value": 2}]},
             "wires": {"alarm": ["mark"], "otherwise": ["connector"]}},
            {"id": "mark", "type": "change",
             "config": {"changes": [{"action": "set", "path": "uplink.alarm", "value": True}]},
             "wires": {"out": ["connector"]}},
            {"id": "connector", "type": "mqtt-connector", "config": {"connection": "broker"}},
            {"id": "repeats", "type": "test-collect"},
        ],
    }  # fmt: skip


def uplink(fcnt: str, fport: str) -> bytes:
    return orjson.dumps({"DevEUI_uplink": {"DevEUI": DEVICE, "FCntUp": fcnt, "FPort": fport, "payload_hex": "00"}})


async def test_one_uplink_through_two_network_servers_is_republished_once_and_routed(mosquitto, runtime):
    Collector.received.clear()
    await runtime.deploy(validate_flow(flow(mosquitto), runtime.registry))
    client = runtime.connections["broker"].connection
    await wait_until(
        lambda: client._client is not None and {"ns1/+/up", "ns2/+/up"} <= set(client._client.subscriptions)
    )
    host, port = mosquitto.host, mosquitto.tcp_port
    async with Subscriber(host, port, "mqtt/things/+/uplink", client_id="nodes-sub") as subscriber:
        await publish(host, port, f"ns1/{DEVICE}/up", uplink("41", "2"))
        await publish(host, port, f"ns2/{DEVICE}/up", uplink("41", "2"))  # the same frame, the other server
        await publish(host, port, f"ns1/{DEVICE}/up", uplink("42", "1"))
        received = await subscriber.wait_for(2)  # the alarm takes one node more: either may come first
        alarm, plain = sorted(received, key=lambda message: orjson.loads(message.payload)["DevEUI_uplink"]["FCntUp"])
        await wait_until(lambda: len(Collector.received["repeats"]) == 1)
    assert orjson.loads(alarm.payload)["DevEUI_uplink"] | {} == {
        "DevEUI": DEVICE, "FCntUp": "41", "FPort": "2", "payload_hex": "00", "alarm": True,
    }  # fmt: skip
    assert orjson.loads(plain.payload)["DevEUI_uplink"]["FCntUp"] == "42"
    assert "alarm" not in orjson.loads(plain.payload)["DevEUI_uplink"]
    assert runtime.node("sites", "once").counters["duplicates"] == 1
    assert subscriber.documents()[2:] == []


async def test_a_function_node_between_mqtt_in_and_the_connector_on_a_real_broker(mosquitto, runtime):
    """A Node-RED body edits uplinks from a real Mosquitto: the connector republishes what it returns."""
    spec = flow(mosquitto)
    spec["id"] = "function-site"
    body = """
    const uplink = msg.payload.DevEUI_uplink;
    uplink.seen = (flow.get("seen") || 0) + 1;
    flow.set("seen", uplink.seen);
    if (uplink.FPort === "9") return null;
    return msg;
    """
    spec["nodes"] = [
        {"id": "ns1", "type": "mqtt-in", "config": {"connection": "broker", "topic": "ns1/+/up"},
         "wires": {"out": ["fn"]}},
        {"id": "fn", "type": "function", "config": {"func": body}, "wires": {"out": ["connector"]}},
        {"id": "connector", "type": "mqtt-connector", "config": {"connection": "broker"}},
    ]  # fmt: skip
    await runtime.deploy(validate_flow(spec, runtime.registry))
    runtime.node("function-site", "fn").node._scope("flow").delete("seen")  # in memory, stores outlive a runtime
    client = runtime.connections["broker"].connection
    await wait_until(lambda: client._client is not None and "ns1/+/up" in set(client._client.subscriptions))
    host, port = mosquitto.host, mosquitto.tcp_port
    async with Subscriber(host, port, "mqtt/things/+/uplink", client_id="function-sub") as subscriber:
        for fcnt, fport in (("1", "1"), ("2", "9"), ("3", "1")):
            await publish(host, port, f"ns1/{DEVICE}/up", uplink(fcnt, fport))
        received = await subscriber.wait_for(2)
        await wait_until(lambda: runtime.node("function-site", "fn").counters["no output"] == 1)
    documents = [orjson.loads(message.payload)["DevEUI_uplink"] for message in received]
    assert [(document["FCntUp"], document["seen"]) for document in documents] == [("1", 1), ("3", 3)]
