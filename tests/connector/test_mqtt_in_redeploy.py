"""Redeploying an mqtt-in while the flow behind it lags: what it had not handed on comes again, and the
connection goes on acknowledging what the new node takes (before the fix, the receipts of the old node's queue
never settled, the connection's PUBACKs waited behind them for ever and the broker stopped delivering)."""

from __future__ import annotations

from flowhost.flowfile import validate_flow
from flowhost.mqtt import MQTT_311, MQTTClient, TcpEndpoint
from tests.support.mqtt_helpers import wait_until
from tests.support.sample_nodes import Collector


def slow_flow(port: int, source_id: str) -> dict:
    configuration = {
        "uplinkTopicPattern": "mqtt/things/{DevEUI}/uplink",
        "hostName": f"127.0.0.1:{port}",
        "protocol": "TCP",
    }
    return {
        "flowhost": 1,
        "id": "slow",
        "connections": [{"id": "broker", "connectorId": "actility-mqtt-iot", "configuration": configuration}],
        "nodes": [
            {
                "id": source_id,
                "type": "mqtt-in",
                "config": {"connection": "broker", "topic": "src/#"},
                "wires": {"out": ["sink"]},
            },
            {"id": "sink", "type": "test-collect", "config": {"inbox": 2, "delay": "20ms"}},
        ],
    }


async def test_a_redeployed_mqtt_in_loses_nothing_and_later_messages_keep_coming(runtime, mosquitto_factory):
    """60 messages into a sink that takes one per 20 ms behind an inbox of 2, so most wait in mqtt-in's queue
    when it is replaced; then 40 more: every one of the 100 reaches the sink (some twice: at least once)."""
    broker = mosquitto_factory(max_inflight=20, max_queued=0)  # the broker sends 20 unacknowledged at most
    await runtime.deploy(validate_flow(slow_flow(broker.tcp_port, "first"), runtime.registry))
    connection = runtime.connections["broker"].connection
    await wait_until(lambda: connection._client is not None and "src/#" in connection._client.subscriptions)
    publisher = MQTTClient(TcpEndpoint(broker.host, broker.tcp_port), "publisher", protocol_version=MQTT_311)
    await publisher.connect()
    try:
        for number in range(60):
            await publisher.publish_and_wait(f"src/{number}", f"before {number}".encode(), 1)
        await wait_until(lambda: len(Collector.received["sink"]) >= 3)
        await runtime.deploy(validate_flow(slow_flow(broker.tcp_port, "second"), runtime.registry))
        for number in range(40):
            await publisher.publish_and_wait(f"src/{number}", f"after {number}".encode(), 1)
        wanted = {f"before {n}" for n in range(60)} | {f"after {n}" for n in range(40)}

        def seen() -> set:
            return {
                msg.payload.decode() if isinstance(msg.payload, bytes) else msg.payload
                for msg in Collector.received["sink"]
            }

        await wait_until(lambda: wanted <= seen(), timeout=20, message=f"missing {sorted(wanted - seen())[:5]}")
    finally:
        await publisher.disconnect()
