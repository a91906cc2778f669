"""mqtt-in's connection keeps a persistent session at the broker (real Mosquitto): what arrives while flowhost is
away is delivered when it is back, and a message that one handler failed on is not acknowledged."""

from __future__ import annotations

import pytest

from flowhost.flowfile import validate_flow
from flowhost_builtins import mqtt_connection
from tests.support.mqtt_helpers import publish, wait_until
from tests.support.sample_nodes import Collector, FailingSubscriber


def listening_flow(port: int, *, extra_nodes: tuple[dict, ...] = (), **configuration) -> dict:
    return {
        "flowhost": 1,
        "id": "sessions",
        "connections": [
            {
                "id": "ns",
                "connectorId": "actility-mqtt-iot",
                "configuration": {
                    "uplinkTopicPattern": "unused/{DevEUI}",
                    "hostName": f"127.0.0.1:{port}",
                    "protocol": "TCP",
                    "clientId": "flowhost-sessions-test",
                    **configuration,
                },
            }
        ],
        "nodes": [
            {
                "id": "in",
                "type": "mqtt-in",
                "config": {"connection": "ns", "topic": "ns/+/up"},
                "wires": {"out": ["seen"]},
            },
            {"id": "seen", "type": "test-collect"},
            *extra_nodes,
        ],
    }


async def deploy_and_wait(runtime, document: dict) -> None:
    await runtime.deploy(validate_flow(document, runtime.registry))
    await wait_until(lambda: runtime.connections["ns"].connection.state == "OPENED", 10, "connection OPENED")


def payloads() -> list[bytes]:
    return [msg.source_bytes for msg in Collector.received["seen"]]


@pytest.mark.parametrize("version", ["3.1.1", "5"])
async def test_messages_published_while_flowhost_is_away_arrive_when_it_is_back(runtime, mosquitto, version):
    flow = listening_flow(mosquitto.tcp_port, mqttVersion=version)
    await deploy_and_wait(runtime, flow)
    await runtime.remove_flow("sessions")  # flowhost stops: its session stays at the broker
    for number in range(5):
        await publish(mosquitto.host, mosquitto.tcp_port, f"ns/{number}/up", f'{{"n": {number}}}')
    await deploy_and_wait(runtime, flow)
    await wait_until(lambda: len(payloads()) >= 5, 10, "the 5 messages queued for flowhost's session")
    assert payloads() == [f'{{"n": {number}}}'.encode() for number in range(5)]


async def test_session_expiry_zero_is_a_clean_session_each_time(runtime, mosquitto):
    flow = listening_flow(mosquitto.tcp_port, mqttVersion="5", sessionExpiry="0s")
    await deploy_and_wait(runtime, flow)
    await runtime.remove_flow("sessions")
    await publish(mosquitto.host, mosquitto.tcp_port, "ns/1/up", '{"while": "away"}')
    await deploy_and_wait(runtime, flow)
    await publish(mosquitto.host, mosquitto.tcp_port, "ns/1/up", '{"while": "back"}')
    await wait_until(lambda: len(payloads()) >= 1, 10, "the message published once flowhost was back")
    assert payloads() == [b'{"while": "back"}']


@pytest.mark.expect_node_errors
async def test_a_failing_handler_keeps_the_message_from_no_one_and_leaves_it_unacknowledged(
    runtime, mosquitto, monkeypatch
):
    # the connection drops and comes back: how long it waits before reconnecting (a second) is not the matter here
    monkeypatch.setattr(mqtt_connection, "INITIAL_RECONNECT_DELAY", 0.05)
    FailingSubscriber.handled.clear()
    failing = {"id": "buggy", "type": "test-failing-subscriber", "config": {"connection": "ns", "topic": "ns/#"}}
    await deploy_and_wait(runtime, listening_flow(mosquitto.tcp_port, extra_nodes=(failing,)))
    await publish(mosquitto.host, mosquitto.tcp_port, "ns/7/up", '{"n": 7}')
    # mqtt-in got it at once; the failure left it unacknowledged, so the broker delivered it again (DUP) after
    # the connection dropped, and this time the other handler took it too.
    await wait_until(lambda: FailingSubscriber.handled == ["ns/7/up"], 15, "the redelivery handled")
    await wait_until(lambda: len(payloads()) == 2, 5, "mqtt-in's copy of both deliveries")
    assert payloads() == [b'{"n": 7}', b'{"n": 7}']
    connection = runtime.connections["ns"].connection
    assert connection.counters["inboundHandlerErrors"] == 1
    assert runtime.node("sessions", "in").counters["redelivered"] == 1
