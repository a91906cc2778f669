"""A deactivated connection keeps what it is given and publishes it once activated."""

from __future__ import annotations

import asyncio

from tests.connector.conftest import connector_flow
from tests.support.mqtt_helpers import Subscriber, wait_until


async def test_deactivated_then_activated(mosquitto, deploy, runtime, states):
    configuration = {
        "uplinkTopicPattern": "states/{DevEUI}",
        "hostName": f"127.0.0.1:{mosquitto.tcp_port}",
        "protocol": "TCP",
    }
    flow = connector_flow(configuration)
    flow["connections"][0]["active"] = False
    async with Subscriber(mosquitto.host, mosquitto.tcp_port, "states/#", client_id="states") as subscriber:
        connection = await deploy(flow)
        assert connection.state == "DEACTIVATED"
        await wait_until(lambda: connection.queued == 4)
        await asyncio.sleep(0.3)  # the behaviour under test: nothing is published while deactivated
        assert subscriber.messages == []
        flow["connections"][0]["active"] = True
        connection = await deploy(flow)
        await subscriber.wait_for(4)
    # counted on the broker's PUBACK, which may be handled after the subscriber got its copy
    await wait_until(lambda: connection.counters["uplinksPublished"] >= 4, 5, "PUBACKs counted")
    assert connection.counters["uplinksRecovered"] == 4 and connection.counters["uplinksPublished"] == 4
    assert [state for state, _ in states][:4] == ["DEACTIVATED", "OPENING", "AUTHENTICATING", "OPENED"]


async def test_mqtt_5_to_a_3_1_1_broker_tells_which_setting_to_change(amqtt_broker, deploy, states):
    configuration = {
        "uplinkTopicPattern": "states/{DevEUI}",
        "hostName": f"127.0.0.1:{amqtt_broker.port}",
        "protocol": "TCP",
        "mqttVersion": "5",
        # amqtt answers 20 02 00 01 only to a CONNECT without properties; given a Session Expiry Interval it
        # misreads the packet and never answers (aedes refuses both alike).
        "sessionExpiry": "0s",
    }
    await deploy(connector_flow(configuration))
    await wait_until(lambda: any(state == "UNREACHABLE" for state, _ in states), 10, "UNREACHABLE")
    error = next(error for state, error in states if state == "UNREACHABLE")
    assert "does not speak MQTT 5" in error and 'mqttVersion: "3.1.1"' in error
