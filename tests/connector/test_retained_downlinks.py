"""Retained downlinks: Mosquitto sends a retained message again on every (re)subscription, so a device would
get the same command after each reconnect. They are ignored unless ``acceptRetainedDownlinks`` is true."""

from __future__ import annotations

from flowhost.mqtt import MQTT_311, MQTTClient, TcpEndpoint
from tests.connector.conftest import connector_flow
from tests.support.mqtt_helpers import wait_until
from tests.support.sample_nodes import Collector

TOPIC = "mqtt/things/A81758FFFE04F27E/downlink"
DOWNLINK = b'{"DevEUI_downlink": {"DevEUI": "A81758FFFE04F27E", "FPort": 8, "payload_hex": "0100"}}'


async def publish(broker, payload: bytes, *, retain: bool) -> None:
    client = MQTTClient(TcpEndpoint(broker.host, broker.tcp_port), "", protocol_version=MQTT_311)
    await client.connect()
    try:
        await client.publish_and_wait(TOPIC, payload, 1, retain=retain)
    finally:
        await client.disconnect()


def configuration(broker, **extra) -> dict:
    return {
        "hostName": f"127.0.0.1:{broker.tcp_port}",
        "protocol": "TCP",
        "uplinkTopicPattern": "mqtt/things/{DevEUI}/uplink",
        "downlinkTopicPattern": "mqtt/things/{DevEUI}/downlink",
        **extra,
    }


def no_uplinks() -> dict:
    return {"type": "test-emit", "config": {"payloads": []}}


async def test_a_retained_downlink_is_ignored_and_counted_and_its_clearing_is_no_error(mosquitto_factory, deploy):
    broker = mosquitto_factory()
    await publish(broker, DOWNLINK, retain=True)
    connection = await deploy(connector_flow(configuration(broker), source=no_uplinks()))
    await wait_until(lambda: connection.counters["downlinksRetainedIgnored"] == 1, message="the retained one ignored")

    await publish(broker, DOWNLINK, retain=False)  # a live downlink still goes through
    await wait_until(lambda: len(Collector.received["downlinks"]) == 1, message="the live downlink")
    await publish(broker, b"", retain=True)  # clears the retained message; subscribers get an empty one
    await wait_until(lambda: connection.counters["downlinksEmptyIgnored"] == 1, message="the clearing seen")
    assert connection.counters["downlinksRejected"] == 0
    assert connection.counters["downlinksReceived"] == 1 and connection.counters["downlinksRetainedIgnored"] == 1


async def test_retained_downlinks_are_taken_with_accept_retained_downlinks(mosquitto_factory, deploy):
    broker = mosquitto_factory()
    await publish(broker, DOWNLINK, retain=True)
    connection = await deploy(connector_flow(configuration(broker, acceptRetainedDownlinks=True), source=no_uplinks()))
    await wait_until(lambda: len(Collector.received["downlinks"]) == 1, message="the retained downlink")
    assert Collector.received["downlinks"][0].payload["DevEUI_downlink"]["payload_hex"] == "0100"
    assert connection.counters["downlinksRetainedIgnored"] == 0
