"""An ``mqtt-in`` removed by a redeploy while its connection is disconnected is unsubscribed at the next
connection, whether the broker kept the session (it still holds the subscription) or not (the client would make
it again): its messages stop coming rather than being acknowledged and dropped."""

from __future__ import annotations

import pytest

from flowhost.flowfile import validate_flow
from tests.support.mqtt_helpers import publish, wait_until
from tests.support.sample_nodes import Collector


def flow(broker, *, with_removed: bool) -> dict:
    def mqtt_in(name: str) -> list[dict]:
        return [
            {
                "id": name,
                "type": "mqtt-in",
                "config": {"connection": "broker", "topic": f"offline/{name}"},
                "wires": {"out": [f"{name}-seen"]},
            },
            {"id": f"{name}-seen", "type": "test-collect"},
        ]

    configuration = {
        "hostName": f"127.0.0.1:{broker.tcp_port}",
        "protocol": "TCP",
        "uplinkTopicPattern": "offline/{DevEUI}/uplink",
    }
    return {
        "flowhost": 1,
        "id": "offline",
        "connections": [{"id": "broker", "connectorId": "actility-mqtt-iot", "configuration": configuration}],
        "nodes": [*mqtt_in("kept"), *(mqtt_in("removed") if with_removed else [])],
    }


@pytest.mark.parametrize("persistence", [True, False], ids=["session-kept", "session-lost"])
async def test_an_mqtt_in_removed_while_disconnected_is_unsubscribed_at_the_next_connection(
    runtime, mosquitto_factory, persistence: bool
) -> None:
    broker = mosquitto_factory(persistence=persistence)
    await runtime.deploy(validate_flow(flow(broker, with_removed=True), runtime.registry))
    connection = runtime.connections["broker"].connection
    await wait_until(lambda: "offline/removed" in connection._client.subscriptions, message="subscribed")
    await publish(broker.host, broker.tcp_port, "offline/removed", b"1")
    await wait_until(lambda: len(Collector.received["removed-seen"]) == 1, message="the removed one's first message")

    broker.stop()
    await wait_until(lambda: connection.state == "UNREACHABLE", message="disconnected")
    await runtime.deploy(validate_flow(flow(broker, with_removed=False), runtime.registry))
    assert runtime.connections["broker"].connection is connection  # the same connection, still disconnected
    broker.start()
    # OPENED is announced once the subscriptions are made and the forgotten ones unmade.
    await wait_until(lambda: connection.counters["reconnections"] == 1 and connection.state == "OPENED", timeout=20)

    # One publisher, in order: once the kept filter's message is in, one for the removed filter would be too.
    await publish(broker.host, broker.tcp_port, "offline/removed", b"2")
    await publish(broker.host, broker.tcp_port, "offline/kept", b"3")
    await wait_until(lambda: len(Collector.received["kept-seen"]) == 1, message="the kept one's message")
    assert connection.counters["inboundUnrouted"] == 0
    assert [message.payload for message in Collector.received["removed-seen"]] == [1]
